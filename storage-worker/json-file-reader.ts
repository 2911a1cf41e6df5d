/**
 * Reading a JSON file that other processes replace by rename at any moment
 * (the read side of atomic-json-file.ts): a read tagged with the version it
 * read, `<file>.bak`, the retry policy for transient read errors, and what a
 * file that does not parse becomes (CORRUPT_DOCUMENT, never "empty").
 */
import { basename } from 'node:path';
import { StorageError } from '../shared/errors.js';
import type { FsOperation } from '../shared/storage-api.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { isTransientError, withRetry, type RetryPolicy } from './retry-policy.js';

/** Reads re-stat after reading; if the file was replaced meanwhile they try again, this many times in all. */
const STABLE_READ_TRIES = 3;

export interface JsonFileReaderOptions<T> {
  fs: FsSeam;
  parse: (text: string) => T;
  retry: Partial<RetryPolicy>;
  onRetry: ((code: string, attempt: number) => void) | undefined;
  versionOf: (fs: FsSeam, path: string) => Promise<string | null>;
}

export class JsonFileReader<T> {
  readonly backupPath: string;
  private readonly file: string;
  private readonly fs: FsSeam;
  private readonly parse: (text: string) => T;
  private readonly retry: Partial<RetryPolicy>;
  private readonly onRetry: ((code: string, attempt: number) => void) | undefined;
  private readonly versionOf: (fs: FsSeam, path: string) => Promise<string | null>;

  constructor(
    readonly path: string,
    options: JsonFileReaderOptions<T>,
  ) {
    this.backupPath = `${path}.bak`;
    this.file = basename(path);
    this.fs = options.fs;
    this.parse = options.parse;
    this.retry = options.retry;
    this.onRetry = options.onRetry;
    this.versionOf = options.versionOf;
  }

  /** The parsed `<file>.bak`, or null when there is none. Throws CORRUPT_DOCUMENT if it does not validate. */
  async readBackup(): Promise<{ data: T; text: string } | null> {
    const name = basename(this.backupPath);
    const text = await this.readRetrying('readFile', name, async () => {
      try {
        return (await this.fs.readFile(this.backupPath)).toString('utf8');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return null; // no backup yet
        throw err;
      }
    });
    if (text === null) return null;
    return { data: this.parseText(text, name), text };
  }

  /**
   * The text with the version it is at least as new as, or null when there
   * is no file (see AtomicJsonFile.readWithText).
   */
  async readStable(): Promise<{ text: string; signature: string } | null> {
    let op: FsOperation = 'stat';
    return this.readRetrying(() => op, this.file, async () => {
      for (let i = 1; ; i++) {
        op = 'stat';
        const before = await this.versionOf(this.fs, this.path);
        if (before === null) return null;
        op = 'readFile';
        let buf: Buffer;
        try {
          buf = await this.fs.readFile(this.path);
        } catch (err) {
          // Removed between stat and read: look again (the next stat says null).
          if (errnoCode(err) === 'ENOENT' && i < STABLE_READ_TRIES) continue;
          if (errnoCode(err) === 'ENOENT') return null;
          throw err;
        }
        op = 'stat';
        const after = await this.versionOf(this.fs, this.path);
        if (after === before || i >= STABLE_READ_TRIES) return { text: buf.toString('utf8'), signature: before };
      }
    });
  }

  /**
   * Runs a read with the retry policy. ENOENT means "no file" to a reader and
   * is answered inside `fn`, so here it is not transient.
   */
  private async readRetrying<R>(op: FsOperation | (() => FsOperation), file: string, fn: () => Promise<R>): Promise<R> {
    let retries = 0;
    try {
      return await withRetry(fn, {
        ...this.retry,
        isTransient: (err) => errnoCode(err) !== 'ENOENT' && (this.retry.isTransient ?? isTransientError)(err),
        onRetry: (code, attempt, delayMs) => {
          retries += 1;
          this.retry.onRetry?.(code, attempt, delayMs);
          this.onRetry?.(code, attempt);
        },
      });
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const code = errnoCode(err) ?? 'UNKNOWN';
      const failedOp = typeof op === 'function' ? op() : op;
      throw new StorageError(
        'STORAGE_IO',
        `could not read ${file}: ${code} at ${failedOp} after ${retries + 1} attempt(s)`,
        { errno: code, op: failedOp, file, attempts: retries + 1 },
        { cause: err },
      );
    }
  }

  /** `parse`, with anything it throws that is not a StorageError made CORRUPT_DOCUMENT. */
  parseText(text: string, file: string): T {
    try {
      return this.parse(text);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageError('CORRUPT_DOCUMENT', `${file} does not parse: ${message}`, { file }, { cause: err });
    }
  }
}
