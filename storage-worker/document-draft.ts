/**
 * A batch's working copy of a media document, copy-on-write over the
 * committed state. The committed state is never touched while a batch is
 * applied, so a failed commit is rolled back by dropping the draft: memory
 * never runs ahead of disk. Only records a batch changes are copied, which
 * keeps a batch over a 10,000-record library cheap.
 */
import { usedInOf, type MediaDocument, type MediaRecord } from '../shared/media-types.js';
import { servedFormOf, servedPathsOf } from '../shared/project-paths.js';
import type { MediaPathIndex } from './usage-extraction.js';

/** What a project holds in memory for its last committed (or loaded) document. */
export interface CommittedState {
  doc: MediaDocument;
  byId: Map<string, MediaRecord>;
  index: MediaPathIndex;
  /** source → ids of the files whose usedIn names it (derived from usedIn) */
  usageBySource: Map<string, Set<string>>;
}

export function usageBySourceOf(doc: MediaDocument): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const rec of doc.files) {
    for (const source of usedInOf(rec)) {
      let ids = map.get(source);
      if (!ids) map.set(source, (ids = new Set()));
      ids.add(rec.id);
    }
  }
  return map;
}

export class DocumentDraft {
  private readonly copies = new Map<string, MediaRecord>();
  private readonly added: MediaRecord[] = [];
  private readonly addedByPath = new Map<string, string>();
  private readonly removed = new Map<string, MediaRecord>();
  private readonly usage = new Map<string, Set<string>>();
  /** set when the document differs from the committed one */
  dirty = false;

  constructor(private readonly base: CommittedState) {}

  get(id: string): MediaRecord | undefined {
    if (this.removed.has(id)) return undefined;
    return this.copies.get(id) ?? this.base.byId.get(id);
  }

  /** A private copy of the record that this batch may change. */
  mutable(id: string): MediaRecord | undefined {
    const copy = this.copies.get(id);
    if (copy) return copy;
    const rec = this.get(id);
    if (!rec) return undefined;
    // Same keys in the same order as the original: a record whose usage never
    // changes must not gain a usedIn key (the editor's files have none).
    const fresh: MediaRecord = { ...rec, metadata: { ...rec.metadata } };
    if (rec.usedIn) fresh.usedIn = [...rec.usedIn];
    this.copies.set(id, fresh);
    this.dirty = true;
    return fresh;
  }

  add(record: MediaRecord): void {
    this.copies.set(record.id, record);
    this.added.push(record);
    // Keyed by served form, as the committed index is: `uploads/a.png` and `/uploads/a.png` are one path.
    for (const path of servedPathsOf(record)) this.addedByPath.set(path, record.id);
    this.dirty = true;
  }

  remove(id: string): MediaRecord | undefined {
    const rec = this.get(id);
    if (!rec) return undefined;
    this.removed.set(id, rec);
    this.dirty = true;
    return rec;
  }

  /**
   * True when a path, in any spelling of the same served path, is already
   * taken by a record (committed or added in this batch). A legacy library
   * may hold two records of one served path: it stays taken until both are gone.
   */
  pathTaken(path: string): boolean {
    const served = servedFormOf(path);
    if (this.addedByPath.has(served)) return true;
    return this.base.index.match([served]).some((id) => !this.removed.has(id));
  }

  /** Ids of the files these media paths name, in order; unknown paths are ignored. */
  matchPaths(paths: readonly string[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const path of paths) {
      const added = this.addedByPath.get(path);
      // Every owner, not the first: a legacy library may serve one path from two records
      // (`uploads/a.png` beside `/uploads/a.png`), and marking only one would let the other be deleted in use.
      for (const id of added !== undefined ? [added] : this.base.index.match([path])) {
        if (!seen.has(id) && this.get(id)) {
          seen.add(id);
          out.push(id);
        }
      }
    }
    return out;
  }

  sourceUsage(source: string): ReadonlySet<string> {
    return this.usage.get(source) ?? this.base.usageBySource.get(source) ?? EMPTY;
  }

  /** Every source that currently marks at least one file. */
  sources(): string[] {
    const all = new Set<string>(this.base.usageBySource.keys());
    for (const [source, ids] of this.usage) {
      if (ids.size > 0) all.add(source);
      else all.delete(source);
    }
    return [...all];
  }

  /** Make `source` mark exactly `ids` (ids of files that no longer exist are skipped). */
  setSourceUsage(source: string, ids: Iterable<string>): void {
    const next = new Set<string>();
    for (const id of ids) if (this.get(id)) next.add(id);
    const prev = this.sourceUsage(source);
    for (const id of prev) {
      if (next.has(id)) continue;
      const rec = this.mutable(id);
      if (rec) rec.usedIn = usedInOf(rec).filter((s) => s !== source);
    }
    for (const id of next) {
      if (prev.has(id)) continue;
      const rec = this.mutable(id);
      if (!rec) continue;
      // Usage set for the first time: the key appears (as the editor's usage code does it).
      rec.usedIn ??= [];
      if (!rec.usedIn.includes(source)) rec.usedIn.push(source);
    }
    this.usage.set(source, next);
  }

  /** The document to write, in the committed order with new records last. */
  build(): MediaDocument {
    const files: MediaRecord[] = [];
    for (const rec of this.base.doc.files) {
      if (this.removed.has(rec.id)) continue;
      files.push(this.copies.get(rec.id) ?? rec);
    }
    for (const rec of this.added) if (!this.removed.has(rec.id)) files.push(rec);
    return { ...this.base.doc, files };
  }

  /** After the commit is durable: fold this draft into the committed state (in place). */
  applyTo(state: CommittedState, doc: MediaDocument): void {
    for (const [id, rec] of this.removed) {
      state.byId.delete(id);
      state.index.remove(rec);
    }
    for (const rec of this.added) {
      if (this.removed.has(rec.id)) continue;
      state.index.add(rec);
    }
    for (const [id, rec] of this.copies) if (!this.removed.has(id)) state.byId.set(id, rec);
    for (const [source, ids] of this.usage) {
      if (ids.size === 0) state.usageBySource.delete(source);
      else state.usageBySource.set(source, ids);
    }
    state.doc = doc;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
