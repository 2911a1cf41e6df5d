/**
 * An in-memory model of the StorageApi's semantics for one project: the
 * records in library order, the content of each source with the paths it
 * uses, and usage as "what the source's last save (or refresh) matched".
 * Written from the contract (shared/storage-api.ts, docs/architecture.md),
 * not from the worker's code, so the two can disagree.
 *
 * Every method answers like the real call: `{ ok: true, value }` or
 * `{ ok: false, code }` with the StorageError code.
 */
import type { RenderedContent } from './content-shapes.js';

/** A record as it sits in media.json: the known fields plus whatever the writer added. */
export type ModelRecord = Record<string, unknown> & {
  id: string;
  filename: string;
  type: string;
  path: string;
  metadata: Record<string, string>;
  sizes: Record<string, { path: string }>;
  usedIn: string[];
};

/** A record as handed to addMedia (no usedIn). */
export type NewModelRecord = Record<string, unknown> & Pick<ModelRecord, 'id' | 'filename' | 'type' | 'path' | 'metadata' | 'sizes'>;

export type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const THEME = 'global:theme-settings';
const MAX_METADATA_LENGTH = 5000;

function ok(value: unknown): Outcome {
  return { ok: true, value: value === undefined ? null : structuredClone(value) };
}
function fail(code: string): Outcome {
  return { ok: false, code };
}

export function isValidSource(source: string): boolean {
  if (source === THEME) return true;
  if (source.startsWith('global:')) return ID_PATTERN.test(source.slice('global:'.length));
  return ID_PATTERN.test(source);
}

export function pathsOfRecord(rec: Pick<ModelRecord, 'path' | 'sizes'>): string[] {
  return [rec.path, ...Object.values(rec.sizes).map((s) => s.path)];
}

export class LibraryModel {
  readonly records: ModelRecord[];
  readonly content = new Map<string, RenderedContent>();

  constructor(records: ReadonlyArray<Record<string, unknown>>, content: ReadonlyArray<[string, RenderedContent]>) {
    // An absent usedIn means "never used" (EDITOR-FORMAT.md).
    this.records = records.map((r) => ({ ...structuredClone(r), usedIn: [...((r.usedIn as string[] | undefined) ?? [])] }) as ModelRecord);
    for (const [source, rendered] of content) this.content.set(source, rendered);
  }

  /** the processes that have written to the project since they opened it */
  private readonly reconciledBy = new Set<string>();

  /**
   * Opening and reading never write media.json. A process's first write
   * call on a project first reconciles the marks of every source that has a
   * content file (trims and completes them), in the same commit.
   */
  beforeWrite(process: string): void {
    if (this.reconciledBy.has(process)) return;
    this.reconciledBy.add(process);
    this.rebuildUsage('withFiles');
  }

  // --- reads ---------------------------------------------------------------

  listMedia(): Outcome {
    return ok({ files: this.records });
  }

  getMedia(id: string): Outcome {
    const rec = this.find(id);
    return rec ? ok(rec) : fail('MEDIA_NOT_FOUND');
  }

  usage(id: string): Outcome {
    const rec = this.find(id);
    if (!rec) return fail('MEDIA_NOT_FOUND');
    return ok({ fileId: rec.id, filename: rec.filename, usedIn: rec.usedIn, isInUse: rec.usedIn.length > 0 });
  }

  readContent(source: string): Outcome {
    if (!isValidSource(source)) return fail('INVALID_INPUT');
    const saved = this.content.get(source);
    return saved ? ok(saved.content) : fail('PAGE_NOT_FOUND');
  }

  listPages(): Outcome {
    return ok([...this.content.keys()].filter((s) => !s.startsWith('global:')).sort());
  }

  // --- writes --------------------------------------------------------------

  /** All or nothing: a taken id or path (original or variant) refuses the whole upload. */
  addMedia(records: readonly NewModelRecord[]): Outcome {
    const ids = new Set(this.records.map((r) => r.id));
    const paths = new Set(this.records.flatMap(pathsOfRecord));
    for (const rec of records) {
      if (ids.has(rec.id)) return fail('INVALID_INPUT');
      ids.add(rec.id);
      for (const path of pathsOfRecord(rec)) {
        if (paths.has(path)) return fail('INVALID_INPUT');
        paths.add(path);
      }
    }
    const added = records.map((rec): ModelRecord => ({ ...structuredClone(rec), usedIn: [] }));
    this.records.push(...added);
    return ok(added);
  }

  /** Video and audio keep title, description; images and every other file alt, title, caption (the editor's rule); values are cut at 5000. */
  updateMetadata(id: string, patch: Record<string, unknown>): Outcome {
    if (Object.values(patch).some((v) => typeof v !== 'string')) return fail('INVALID_INPUT');
    const rec = this.find(id);
    if (!rec) return fail('MEDIA_NOT_FOUND');
    const fields = rec.type.startsWith('video/') || rec.type.startsWith('audio/') ? ['title', 'description'] : ['alt', 'title', 'caption'];
    for (const field of fields) {
      const value = patch[field];
      if (typeof value === 'string') rec.metadata[field] = value.slice(0, MAX_METADATA_LENGTH);
    }
    return ok(rec);
  }

  /** Each id once, in order: unknown → notFound, used → inUse (kept), otherwise removed. */
  deleteMedia(ids: readonly string[]): Outcome {
    const result = { deleted: [] as ModelRecord[], inUse: [] as unknown[], notFound: [] as string[] };
    for (const id of new Set(ids)) {
      const rec = this.find(id);
      if (!rec) result.notFound.push(id);
      else if (rec.usedIn.length > 0) result.inUse.push({ id, filename: rec.filename, usedIn: [...rec.usedIn] });
      else {
        this.records.splice(this.records.indexOf(rec), 1);
        result.deleted.push(rec);
      }
    }
    return ok(result);
  }

  /** At acknowledgment the source marks exactly the files its content uses (as they exist now). */
  saveContent(source: string, rendered: RenderedContent): Outcome {
    if (!isValidSource(source)) return fail('INVALID_INPUT');
    const stored = { content: structuredClone(rendered.content), paths: [...rendered.paths] };
    this.content.set(source, stored);
    const fileIds = this.match(stored.paths);
    this.setSourceUsage(source, fileIds);
    return ok({ source, mediaPaths: stored.paths, fileIds });
  }

  /** Usage without content (internal callers): the source marks exactly what these paths name; no file is written. */
  setUsage(source: string, paths: readonly string[]): Outcome {
    if (!isValidSource(source)) return fail('INVALID_INPUT');
    const fileIds = this.match(paths);
    this.setSourceUsage(source, fileIds);
    return ok({ source, mediaPaths: paths, fileIds });
  }

  deleteContent(source: string): Outcome {
    if (!isValidSource(source)) return fail('INVALID_INPUT');
    if (!this.content.delete(source)) return fail('PAGE_NOT_FOUND');
    this.setSourceUsage(source, []);
    return ok(null);
  }

  refreshUsage(): Outcome {
    return ok(this.rebuildUsage('all'));
  }

  // --- usage ---------------------------------------------------------------

  /** Ids of the records owning these paths, in path order, each once; unknown paths match nothing. */
  match(paths: readonly string[]): string[] {
    const ids: string[] = [];
    for (const path of paths) {
      const owner = this.records.find((r) => pathsOfRecord(r).includes(path));
      if (owner && !ids.includes(owner.id)) ids.push(owner.id);
    }
    return ids;
  }

  private setSourceUsage(source: string, ids: readonly string[]): void {
    for (const rec of this.records) {
      const marked = rec.usedIn.includes(source);
      const wanted = ids.includes(rec.id);
      if (marked && !wanted) rec.usedIn = rec.usedIn.filter((s) => s !== source);
      if (!marked && wanted) rec.usedIn.push(source);
    }
  }

  /**
   * `all`: usage is exactly what the content files use (a source without a
   * file uses nothing). `withFiles`: only sources with a file are rebuilt.
   */
  private rebuildUsage(scope: 'all' | 'withFiles'): { sources: number; filesInUse: number } {
    if (scope === 'all') {
      for (const rec of this.records) rec.usedIn = rec.usedIn.filter((s) => this.content.has(s));
    }
    const inUse = new Set<string>();
    for (const [source, saved] of this.content) {
      const ids = this.match(saved.paths);
      this.setSourceUsage(source, ids);
      for (const id of ids) inUse.add(id);
    }
    return { sources: this.content.size, filesInUse: inUse.size };
  }

  private find(id: string): ModelRecord | undefined {
    return this.records.find((r) => r.id === id);
  }
}
