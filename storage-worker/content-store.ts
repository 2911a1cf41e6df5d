/**
 * One project's content files (pages, global widgets, theme) as the store
 * sees them: where each source's file is, reading and listing them,
 * scanning them for media paths (outside the lock), whether such a scan is
 * still current, and writing or removing a batch's files under the lock
 * (content-batch.ts does the fenced renames).
 */
import { dirname, join } from 'node:path';
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import { fsyncDirectory } from '../shared/directory-sync.js';
import { THEME_SOURCE } from '../shared/media-types.js';
import { GLOBALS_DIR, PAGES_DIR, THEME_FILE } from '../shared/project-paths.js';
import type { ContentActions } from './content-actions.js';
import { applyContentChanges, type ContentChange } from './content-batch.js';
import { contentFileOf, sourceOfGlobalFile, sourceOfPageFile } from './content-files.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import type { MediaDocumentFile } from './media-document-file.js';
import type { OperationContext } from './operation.js';
import { isTransientError, withRetry } from './retry-policy.js';
import { extractMediaPaths } from './usage-extraction.js';
import type { WorkerCounters } from './worker-counters.js';

/**
 * Content files read and scanned for media paths OUTSIDE the lock (a big
 * page costs a parse and a scan); applied under it only if no commit has
 * happened since (same generation nonce), else read again under the lock.
 */
export interface ContentScan {
  generation: string;
  paths: Map<string, string[]>;
}

export interface ContentStoreOptions {
  fs: FsSeam;
  logger: pino.Logger;
  counters: WorkerCounters;
  /** media.json: its generation nonce tags a scan, its last signature says whether the scan is current */
  file: MediaDocumentFile;
}

export class ContentStore implements OperationContext {
  private readonly ensuredDirs = new Set<string>();
  /**
   * Content files were renamed and the generation nonce not yet replaced (a
   * carried trim's batch: its carrier replaces it). A content scan tagged with
   * the current nonce may then predate those files: isCurrent must say no.
   */
  private unpublished = false;

  constructor(
    private readonly projectId: string,
    private readonly dir: string,
    private readonly opts: ContentStoreOptions,
  ) {}

  contentPath(source: string): string {
    return join(this.dir, contentFileOf(source));
  }

  /** The parsed content of a source, or undefined when it has none. */
  async readContentOrNull(source: string): Promise<unknown> {
    let bytes: Buffer;
    try {
      // Content files are only ever replaced by rename: one read sees one whole version.
      bytes = await withRetry(() => this.opts.fs.readFile(this.contentPath(source)), {
        isTransient: (err) => errnoCode(err) !== 'ENOENT' && isTransientError(err),
        onRetry: (code) => this.opts.counters.retry(code),
      });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // never saved, or deleted
      throw StorageError.from(err, 'STORAGE_IO');
    }
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      this.opts.logger.warn({ project: this.projectId, source }, 'content file is not valid JSON; counted as using nothing');
      return undefined;
    }
  }

  /** Every content source with a file on disk (pages, global widgets, theme). */
  async contentSources(): Promise<string[]> {
    const sources: string[] = [];
    for (const [sub, toSource] of [
      [PAGES_DIR, sourceOfPageFile],
      [GLOBALS_DIR, sourceOfGlobalFile],
    ] as const) {
      try {
        for (const entry of await this.opts.fs.readdir(join(this.dir, sub))) {
          const source = entry.isFile() ? toSource(entry.name) : null;
          if (source) sources.push(source);
        }
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err; // no such folder: no such sources
      }
    }
    try {
      await this.opts.fs.stat(join(this.dir, THEME_FILE));
      sources.push(THEME_SOURCE);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    return sources;
  }

  /**
   * Reads every content file and scans it for media paths. Runs outside the
   * lock and outside the commit queue; `refreshUsage` applies the result
   * under the lock only if the generation is still the one read first.
   */
  async scanContent(): Promise<ContentScan> {
    const generation = await this.opts.file.generation.read();
    const sources = await this.contentSources();
    const contents = await Promise.all(sources.map((source) => this.readContentOrNull(source)));
    const paths = new Map<string, string[]>();
    sources.forEach((source, i) => {
      const saved = contents[i];
      paths.set(source, saved === undefined ? [] : extractMediaPaths(saved));
    });
    return { generation, paths };
  }

  /** Under the lock: whether nothing was committed (by anyone) since `scan` read its generation. */
  isCurrent(scan: ContentScan): boolean {
    if (this.unpublished) return false;
    const signature = this.opts.file.last?.signature;
    return signature !== undefined && signature !== null ? signature.endsWith(`#${scan.generation}`) : false;
  }

  /** A batch's content files are renamed and the nonce is left for a later commit to replace. */
  markUnpublished(): void {
    this.unpublished = true;
  }

  /** The generation nonce was replaced after the last content renames. */
  markPublished(): void {
    this.unpublished = false;
  }

  /**
   * Runs under the lock between a batch's two commits: write or remove its
   * content files, each rename behind `fence`. Returns the sources whose file
   * could not be changed, with why (their operations fail; other sources go
   * on). A lost lock fails the whole batch: it throws.
   */
  async apply(content: ContentActions, fence: () => Promise<void>): Promise<Map<string, StorageError>> {
    const changes: ContentChange[] = [];
    for (const [source, action] of content.bySource) {
      const path = this.contentPath(source);
      if (action.kind === 'write') {
        const dir = dirname(path);
        if (!this.ensuredDirs.has(dir)) {
          await this.opts.fs.mkdir(dir);
          // A folder mkdir may just have created is durable only once the
          // folder holding it is fsynced (an fsync of the folder itself does
          // not make its own name durable): every level up to the project.
          for (let d = dir; d.startsWith(this.dir) && d !== this.dir; d = dirname(d)) await fsyncDirectory(this.opts.fs, dirname(d));
          this.ensuredDirs.add(dir);
        }
        changes.push({ path, text: action.text });
      } else changes.push({ path, remove: true });
    }
    const failed = await applyContentChanges(this.opts.fs, changes, {
      onRetry: (code) => this.opts.counters.retry(code),
      beforePublish: fence,
    });
    for (const error of failed.values()) if (error.code === 'LOCK_LOST') throw error;
    const failedSources = new Map<string, StorageError>();
    for (const source of content.bySource.keys()) {
      const error = failed.get(this.contentPath(source));
      if (error) failedSources.set(source, error);
    }
    return failedSources;
  }
}
