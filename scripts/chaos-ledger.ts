/**
 * The chaos harness's memory of what the server acknowledged — and of what it
 * was asked but never confirmed, because either may have happened.
 *
 * Every change is recorded as an attempt before it is sent and marked
 * acknowledged when a 2xx comes back. Changes to one thing (a file's metadata,
 * one content source) are made one at a time, so "the last acknowledged one"
 * is well defined; the acceptable final states are that one and any attempt
 * made after it that was never confirmed (it may have been committed just
 * before a kill). Before any acknowledgement, "never happened" is acceptable too.
 */
import type { MediaMetadata } from '../shared/media-types.js';

export interface KnownFile {
  project: string;
  id: string;
  filename: string;
  /** `/uploads/images/<filename>` */
  path: string;
  size: number;
  sha256: string;
  width: number;
  height: number;
  /** size variants the upload answer listed */
  sizes: Record<string, { filename: string; size: number }>;
  /** the client that uploaded it; only it edits and deletes the file */
  owner: number;
  metadata: Attempts<MediaMetadata>;
  /** a delete was sent (the file may be gone even if never confirmed) */
  deleteSent: boolean;
  /** a delete was acknowledged (deleted, or reported not found after an earlier try) */
  deleteAcked: boolean;
  /**
   * the answer itself said "deleted", so its binaries were removed before it
   * was sent; a delete only inferred from "not found" on a retry may have been
   * committed by a server killed before it removed the binaries (orphans for
   * the doctor, not a lost acknowledgement)
   */
  binariesGone: boolean;
}

interface Attempt<T> {
  value: T;
  acked: boolean;
  /** sent more than once (a connection dropped, a 503): it was in flight during a restart */
  interrupted: boolean;
}

/** The attempts to set one value, in the order they were made. */
export class Attempts<T> {
  private readonly list: Array<Attempt<T>> = [];

  constructor(private readonly initial: T | undefined) {}

  begin(value: T): Attempt<T> {
    const attempt = { value, acked: false, interrupted: false };
    this.list.push(attempt);
    return attempt;
  }

  get count(): number {
    return this.list.length;
  }

  /** Every attempt that was in flight during a restart, however long ago. */
  interrupted(): T[] {
    return this.list.filter((a) => a.interrupted).map((a) => a.value);
  }

  /**
   * Values the server may hold now: the last acknowledged one and every later
   * attempt; with nothing acknowledged, the initial state (`undefined` when
   * "nothing at all" is a state) and every attempt.
   */
  candidates(): Array<T | undefined> {
    let last = -1;
    this.list.forEach((a, i) => {
      if (a.acked) last = i;
    });
    const later = this.list.slice(last + 1).map((a) => a.value);
    return last < 0 ? [this.initial, ...later] : [this.list[last]!.value, ...later];
  }
}

/** A content source (page, header, footer) and what it was saved with. */
export interface ContentSave {
  /** media paths the harness put in the content */
  paths: string[];
  content: unknown;
}

export class ChaosLedger {
  readonly files = new Map<string, KnownFile>();
  /** `<project>|<source>` → saves of that source, made one at a time */
  readonly sources = new Map<string, { project: string; source: string; saves: Attempts<ContentSave> }>();
  private readonly busySources = new Set<string>();

  filesOf(project: string): KnownFile[] {
    return [...this.files.values()].filter((f) => f.project === project);
  }

  addFile(file: Omit<KnownFile, 'metadata' | 'deleteSent' | 'deleteAcked' | 'binariesGone'>): KnownFile {
    const known: KnownFile = {
      ...file,
      metadata: new Attempts<MediaMetadata>({}),
      deleteSent: false,
      deleteAcked: false,
      binariesGone: false,
    };
    this.files.set(file.id, known);
    return known;
  }

  source(project: string, source: string): Attempts<ContentSave> {
    const key = `${project}|${source}`;
    let entry = this.sources.get(key);
    if (!entry) {
      entry = { project, source, saves: new Attempts<ContentSave>(undefined) };
      this.sources.set(key, entry);
    }
    return entry.saves;
  }

  /**
   * Several clients save the same header and footer; taking the source for
   * the length of one save keeps its saves in one order, so "last
   * acknowledged" means something. Returns false when another client holds it.
   */
  tryTake(project: string, source: string): boolean {
    const key = `${project}|${source}`;
    if (this.busySources.has(key)) return false;
    this.busySources.add(key);
    return true;
  }

  release(project: string, source: string): void {
    this.busySources.delete(`${project}|${source}`);
  }
}
