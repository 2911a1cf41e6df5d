/**
 * `AtomicJsonFile<T>`: the lowdb adapter behind every media.json and content
 * file. It replaces lowdb's stock `JSONFile` (steno), which writes through one
 * fixed temp name and never fsyncs — two processes on one file then collide on
 * that temp name (`ENOENT … rename`) and a power cut can leave an empty file.
 *
 * One write, start to finish:
 *   1. create a temp file with a name no other writer can hold (temp-file-name.ts),
 *      exclusively ('wx'), beside the target;
 *   2. write all bytes, make its mtime later than the current target's,
 *      fsync, fstat (the signature), close;
 *   3. keepBackup: hard-link the current target to a temp name and rename that
 *      over `<file>.bak`, so the previous good version survives the write;
 *   4. rename the temp file over the target — readers see the old or the new
 *      file, never a mix;
 *   5. fsync the directory, so the rename itself survives a power cut.
 * Steps 1, 2, 4 and 5 are the shared publish routine's (temp-file-publish.ts);
 * what is this file's own is the mtime bump, the backup and the retries.
 * Transient errors (retry-policy.ts) redo the whole write with a fresh temp
 * name: a temp file deleted underneath us shows up as ENOENT at the rename,
 * and retrying only the rename would fail forever. Whatever fails, our own
 * temp file is removed; the target is never touched before step 4.
 *
 * Writes through one adapter are serialised (one in flight, the rest wait in
 * call order); cross-process exclusion is the project lock's job, not ours.
 * Reading (a read tagged with its version, `.bak`) is json-file-reader.ts.
 */
import type { Adapter } from 'lowdb';
import type { BigIntStats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StorageError } from '../shared/errors.js';
import type { FsOperation } from '../shared/storage-api.js';
import { errnoCode, realFs, type FsFile, type FsSeam } from './fs-seam.js';
import { fsyncDirectory } from '../shared/directory-sync.js';
import { JsonFileReader } from './json-file-reader.js';
import { signatureOf, statSignature } from './file-signature.js';
import { withRetry, type RetryPolicy } from './retry-policy.js';
import { makeTempName } from './temp-file-name.js';
import { publishFile } from './temp-file-publish.js';

export { signatureOf, statSignature };



export interface AtomicJsonFileOptions<T> {
  /** the file-I/O seam (default: the real file system) */
  fs?: FsSeam;
  /** parses and validates; throws StorageError CORRUPT_DOCUMENT (other throws are wrapped as such) */
  parse: (text: string) => T;
  /** default `JSON.stringify(data, null, 2)` */
  stringify?: (data: T) => string;
  /** maintain `<file>.bak` holding the version before the latest write (default false) */
  keepBackup?: boolean;

  /** overrides of the default retry policy (attempts, baseMs, maxMs, isTransient, onRetry) */
  retry?: Partial<RetryPolicy>;
  /** told of every retried I/O error, for the retries-by-code counters */
  onRetry?: (code: string, attempt: number) => void;
  /** told of problems that do not fail the write (backup not refreshed, cleanup failed); log them */
  onWarning?: (warning: AtomicFileWarning) => void;
  /**
   * The version identity a read is tagged with (default: the stat signature).
   * media.json adds its generation nonce (generation-file.ts), which must be
   * read before the file's bytes for the tag to be sound.
   */
  versionOf?: (fs: FsSeam, path: string) => Promise<string | null>;
}

export interface WriteTextOptions {
  /**
   * The caller checked that the text parses and validates, so the backup
   * step may take this version without parsing it again.
   */
  validated?: boolean;
  /**
   * Runs right before the rename that publishes the new version; a throw
   * aborts the write with nothing published (the project lock's fence: a
   * writer whose lock was taken over must not replace the file).
   */
  beforeRename?: () => Promise<void>;
}

export interface AtomicFileWarning {
  kind: 'backup-not-refreshed' | 'cleanup-failed';
  /** base name of the file concerned */
  file: string;
  errno?: string;
  message: string;
}

export interface WriteTextResult {
  /** equals `statSignature(fs, path)` right after the write */
  signature: string;
  /**
   * The new version's mtime is strictly later than the one it replaced, so
   * its stat signature differs from every earlier version's. False where the
   * file system rounded the bump away (whole-second or 10 ms timestamps):
   * then only a generation nonce tells the versions apart.
   */
  newerMtime: boolean;
  bytes: number;
  /** transient errors retried during this write */
  retries: number;
}

export interface ReadResult<T> {
  data: T;
  text: string;
  /** signature of the file the text came from (see readWithText) */
  signature: string;
}

/** Where a write failed; mapped to the seam operation named in the error details. */
type WriteStep =
  | 'open-temp'
  | 'write-temp'
  | 'stat-target'
  | 'utimes-temp'
  | 'fsync-temp'
  | 'stat-temp'
  | 'close-temp'
  | 'rename'
  | 'fsync-dir';

const STEP_OP: Record<WriteStep, FsOperation> = {
  'open-temp': 'open',
  'write-temp': 'write',
  'stat-target': 'stat',
  'utimes-temp': 'utimes',
  'fsync-temp': 'fsync',
  'stat-temp': 'stat',
  'close-temp': 'close',
  rename: 'rename',
  'fsync-dir': 'fsync',
};

export class AtomicJsonFile<T> implements Adapter<T> {
  readonly path: string;
  readonly backupPath: string;
  private readonly fs: FsSeam;
  private readonly dir: string;
  private readonly file: string;
  private readonly parse: (text: string) => T;
  private readonly stringify: (data: T) => string;
  private readonly keepBackup: boolean;

  private readonly retry: Partial<RetryPolicy>;
  private readonly onRetry: ((code: string, attempt: number) => void) | undefined;
  private readonly onWarning: ((warning: AtomicFileWarning) => void) | undefined;
  private readonly reader: JsonFileReader<T>;
  /** tail of the write chain: each write starts after the previous one settled */
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * Signature of the last content this adapter read and validated. The
   * backup step trusts a target with this signature without re-reading it.
   * Its own writes are trusted only when the writer says it validated the
   * text (`writeText(text, { validated: true })`): a serializer bug once
   * wrote an invalid file that then became `.bak` because it carried this
   * adapter's signature. Any other version is parsed before it becomes the backup.
   */
  private lastGoodSignature: string | null = null;

  constructor(path: string, options: AtomicJsonFileOptions<T>) {
    this.path = path;
    this.backupPath = `${path}.bak`;
    this.dir = dirname(path);
    this.file = basename(path);
    this.fs = options.fs ?? realFs;
    this.parse = options.parse;
    this.stringify = options.stringify ?? ((data: T) => JSON.stringify(data, null, 2));
    this.keepBackup = options.keepBackup ?? false;

    this.retry = options.retry ?? {};
    this.onRetry = options.onRetry;
    this.onWarning = options.onWarning;
    this.reader = new JsonFileReader(path, {
      fs: this.fs,
      parse: this.parse,
      retry: this.retry,
      onRetry: this.onRetry,
      versionOf: options.versionOf ?? statSignature,
    });
  }

  // --- reading -------------------------------------------------------------

  /** The parsed file, or null when it does not exist (lowdb then keeps its default data). */
  async read(): Promise<T | null> {
    return (await this.readWithText())?.data ?? null;
  }

  /**
   * The parsed file with its text and signature, or null when it does not exist.
   *
   * The signature is taken before reading and checked again after: when
   * another process renamed a new file in between, the read is repeated. If it
   * keeps changing, the signature from *before* the read is returned — the
   * text is then at least as new as that signature, so a later freshness
   * check can only reload needlessly, never keep stale data.
   */
  async readWithText(): Promise<ReadResult<T> | null> {
    const raw = await this.reader.readStable();
    if (raw === null) return null;
    const data = this.reader.parseText(raw.text, this.file);
    this.lastGoodSignature = raw.signature;
    return { data, text: raw.text, signature: raw.signature };
  }

  /** The parsed `<file>.bak`, or null when there is none. Throws CORRUPT_DOCUMENT if it does not validate. */
  readBackup(): Promise<{ data: T; text: string } | null> {
    return this.reader.readBackup();
  }

  // --- writing -------------------------------------------------------------

  /** lowdb's entry point: serialise, then `writeText`. */
  async write(data: T): Promise<void> {
    const text: unknown = this.stringify(data);
    if (typeof text !== 'string') {
      throw new StorageError('INVALID_INPUT', `data for ${this.file} does not serialise to JSON text`, { file: this.file });
    }
    await this.writeText(text);
  }

  /**
   * Writes `text` durably and atomically. Resolves after the new content is
   * renamed in and the directory is fsynced; waits for any write already
   * running through this adapter. Rejects with StorageError STORAGE_IO
   * (`details: { errno, op, file, step, attempts, contentReplaced }`).
   * `validated`: the caller checked that `text` parses and validates, so the
   * backup step may take this version without parsing it again.
   */
  writeText(text: string | Uint8Array, options: WriteTextOptions = {}): Promise<WriteTextResult> {
    const run = this.tail.then(() => this.commit(text, options));
    // The chain only orders writes; each failure reaches its own caller via
    // `run`, so the next write must start regardless of how this one ended.
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async commit(text: string | Uint8Array, options: WriteTextOptions): Promise<WriteTextResult> {
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    const state: { step: WriteStep } = { step: 'open-temp' };
    let retries = 0;
    // Set once the rename succeeded: from then on the new content is in place
    // and only the directory fsync is retried. Redoing the whole write would
    // refresh the backup from the *new* content and lose the previous version.
    let renamedSignature: string | undefined;
    let newerMtime = false;
    try {
      const signature = await withRetry(
        async () => {
          if (renamedSignature === undefined) {
            await this.replaceTarget(buf, state, options, (replaced) => {
              renamedSignature = replaced.signature;
              newerMtime = replaced.newerMtime;
            });
          } else {
            await this.syncDirectory(state);
          }
          return renamedSignature!;
        },
        {
          ...this.retry,
          onRetry: (code, attempt, delayMs) => {
            retries += 1;
            this.retry.onRetry?.(code, attempt, delayMs);
            this.onRetry?.(code, attempt);
          },
        },
      );
      if (options.validated) this.lastGoodSignature = signature;
      return { signature, newerMtime, bytes: buf.byteLength, retries };
    } catch (err) {
      if (options.validated && renamedSignature !== undefined) this.lastGoodSignature = renamedSignature;
      if (err instanceof StorageError) throw err;
      const code = errnoCode(err) ?? 'UNKNOWN';
      const op = STEP_OP[state.step];
      throw new StorageError(
        'STORAGE_IO',
        `could not write ${this.file}: ${code} at ${state.step} after ${retries + 1} attempt(s)`,
        {
          errno: code,
          op,
          file: this.file,
          step: state.step,
          attempts: retries + 1,
          // true: the new content was renamed in but the directory fsync
          // failed — the file now holds the new text, durability unproven.
          contentReplaced: renamedSignature !== undefined,
        },
        { cause: err },
      );
    }
  }

  /**
   * Steps 1–5 of one try, with a fresh temp name (temp-file-publish.ts);
   * returns the new file's signature. `renamed` is called once the new
   * content is in place, before the directory fsync.
   */
  private async replaceTarget(
    buf: Buffer,
    state: { step: WriteStep },
    options: WriteTextOptions,
    renamed: (replaced: { signature: string; newerMtime: boolean }) => void,
  ): Promise<void> {
    const targetMtime = this.targetMtime();
    targetMtime.catch(() => undefined); // awaited below; a failure before then must not go unhandled
    let stamped: { signature: string; newerMtime: boolean } | undefined;
    await publishFile(this.fs, this.path, buf, {
      by: 'rename',
      syncDirectory: true,
      onStep: (step) => {
        if (step === 'fsync-dir') renamed(stamped!);
        state.step = step === 'publish' ? 'rename' : step;
      },
      // fstat of the fd, not stat of a path: this is exactly the inode that the
      // rename puts in place (rename and fsync keep ino, size and mtime; only ctime moves).
      afterWrite: async (file, temp) => {
        const bumped = await this.ensureNewerMtime(file, temp, targetMtime, state);
        stamped = { signature: signatureOf(bumped.stats), newerMtime: bumped.newer };
      },
      beforePublish: async () => {
        if (this.keepBackup) await this.refreshBackup();
        await options.beforeRename?.();
      },
      onCleanupError: (err, temp) => this.warn('cleanup-failed', basename(temp), err),
    });
  }

  /**
   * Makes the new version's mtime strictly later than the current target's.
   *
   * Why: the signature (dev:ino:size:mtime) must differ between any two
   * versions, but ext4 hands a freed inode number straight to the next new
   * file (measured: 498 of 499 rename-replaced files reused the previous
   * inode), and on kernels with coarse timestamps (one clock tick, ~4 ms)
   * several quick commits of equal size could then share a signature and a
   * reader would keep stale data. Writers are serialised by the project lock,
   * so bumping each version past its predecessor makes mtimes strictly
   * increasing across versions. Costs one stat; a utimes only when needed
   * (clock tick not yet advanced, or a target mtime in the future).
   */
  private async ensureNewerMtime(
    file: FsFile,
    temp: string,
    targetMtime: Promise<bigint | null>,
    state: { step: WriteStep },
  ): Promise<{ stats: BigIntStats; newer: boolean }> {
    state.step = 'stat-temp';
    const written = await file.stat();
    state.step = 'stat-target';
    const previous = await targetMtime;
    if (previous === null || written.mtimeNs > previous) return { stats: written, newer: true };
    // utimes takes a Date (milliseconds) and Node passes it on as float
    // seconds, which can land a microsecond below the intended millisecond
    // (…807 ms arrives as …806.999 ms). Two milliseconds past the
    // predecessor's whole millisecond is always strictly later.
    const mtime = new Date(Number(previous / 1_000_000n) + 2);
    state.step = 'utimes-temp';
    await this.fs.utimes(temp, new Date(), mtime);
    state.step = 'stat-temp';
    const bumped = await file.stat();
    return { stats: bumped, newer: bumped.mtimeNs > previous };
  }

  /** The target's mtime (null when there is none yet); started early so it overlaps the temp write. */
  private async targetMtime(): Promise<bigint | null> {
    try {
      return (await this.fs.stat(this.path)).mtimeNs;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null; // first version: nothing to be newer than
      throw err;
    }
  }



  /**
   * Step 3: the current target becomes `<file>.bak`. Hard-linking gives the
   * backup the very inode of the previous version (no copy, no window where
   * it is half-written), and renaming the link over `.bak` replaces the old
   * backup atomically.
   *
   * Failure here is not fatal (decided): the write itself is sound, and the
   * backup that stays is still a good version, only an older one. It is
   * reported through `onWarning` for the log. The backup step also refuses a
   * target that does not validate — a file another process or a person wrote
   * badly must not push the last good version out of `.bak`.
   */
  private async refreshBackup(): Promise<void> {
    const backupName = basename(this.backupPath);
    const linkTemp = makeTempName(this.backupPath);
    try {
      await this.fs.link(this.path, linkTemp);
    } catch (err) {
      // ENOENT: no target yet (first write), so there is no previous version to keep.
      if (errnoCode(err) === 'ENOENT') return;
      this.warn('backup-not-refreshed', backupName, err);
      return;
    }
    try {
      // stat the link itself: it is the inode we are about to keep, even if
      // another process renames a new target in meanwhile.
      const signature = signatureOf(await this.fs.stat(linkTemp));
      if (signature !== this.lastGoodSignature) {
        this.parse((await this.fs.readFile(linkTemp)).toString('utf8'));
      }
      await this.fs.rename(linkTemp, this.backupPath);
      // rename(2) between two links of one inode does nothing and succeeds:
      // when `.bak` already is this version (the retry of a write whose rename
      // failed), the link temp would be left behind. Normally it is gone (ENOENT).
      await this.removeOwnTemp(linkTemp);
    } catch (err) {
      this.warn('backup-not-refreshed', backupName, err);
      await this.removeOwnTemp(linkTemp);
    }
  }

  /** Step 5: fsync the directory so the rename is on disk, not only the data. */
  private async syncDirectory(state: { step: WriteStep }): Promise<void> {
    state.step = 'fsync-dir';
    await fsyncDirectory(this.fs, this.dir);
  }

  /**
   * Removes a temp file of ours after a failure. ENOENT is ignored because it
   * means the file is already gone (never created past a failed open, or
   * removed underneath us, e.g. by an operator) — the goal, no temp file of
   * ours left, is met. Any other error is reported, not thrown: the caller is
   * already failing with the error that matters, and the leftover sweeper
   * removes the file once this process is gone.
   */
  private async removeOwnTemp(temp: string): Promise<void> {
    try {
      await this.fs.unlink(temp);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      this.warn('cleanup-failed', basename(temp), err);
    }
  }

  private warn(kind: AtomicFileWarning['kind'], file: string, err: unknown): void {
    if (!this.onWarning) return;
    const warning: AtomicFileWarning = { kind, file, message: err instanceof Error ? err.message : String(err) };
    const code = errnoCode(err) ?? (err instanceof StorageError ? err.code : undefined);
    if (code !== undefined) warning.errno = code;
    this.onWarning(warning);
  }
}
