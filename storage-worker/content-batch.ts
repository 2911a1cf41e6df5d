/**
 * Writes and removes the content files of one commit's batch (pages, global
 * widgets, theme) durably and atomically, as a group, in two steps:
 *
 * 1. `prepareContentChanges`: each new text goes to its own unique temp file,
 *    written and fsynced. Nothing a reader can see changes, so this runs
 *    while the batch's first media.json commit (the union of old and new
 *    marks) is being made — it is most of a content batch's time.
 * 2. `publishContentChanges`, once that commit is durable: each temp file is
 *    renamed over its target (and each removal unlinked), every one behind
 *    the lock's fence; then each directory is fsynced once for the batch.
 *
 * So no reader ever sees a half-written page, two writers never share a temp
 * file, and at 64 pages a batch does one directory fsync per directory
 * instead of one per file. No signature or backup work is done (content files
 * have neither). A failure of one file fails only that file.
 */
import { dirname } from 'node:path';
import { StorageError } from '../shared/errors.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { fsyncDirectory } from './directory-sync.js';
import { withRetry, type RetryPolicy } from './retry-policy.js';
import { makeTempName } from './temp-file-name.js';

export type ContentChange = { path: string; text: string } | { path: string; remove: true };

/** Step 1's result: per target, a durable temp file to rename in, a removal to make, or the error. */
export interface PreparedContent {
  readonly changes: ReadonlyArray<{ path: string; temp: string; text: string } | { path: string; remove: true }>;
  readonly failed: Map<string, StorageError>;
}

/** Step 1: writes and fsyncs every new text to a temp file beside its target. Never rejects. */
export async function prepareContentChanges(
  fs: FsSeam,
  changes: readonly ContentChange[],
  retry: Partial<RetryPolicy>,
): Promise<PreparedContent> {
  const failed = new Map<string, StorageError>();
  const prepared = await Promise.all(
    changes.map(async (change) => {
      if ('remove' in change) return change;
      try {
        return { path: change.path, text: change.text, temp: await withRetry(() => writeTemp(fs, change.path, change.text), retry) };
      } catch (err) {
        failed.set(change.path, ioError(err, change.path));
        return null;
      }
    }),
  );
  return { changes: prepared.filter((c): c is NonNullable<typeof c> => c !== null), failed };
}

/**
 * Step 2: renames every prepared temp file into place and makes every
 * removal, each right after `beforePublish` (the lock's fence) allowed it;
 * then fsyncs each directory once. Resolves to the error of each target that
 * failed (step 1's failures included); a target counts as done only once its
 * directory was fsynced.
 */
export async function publishContentChanges(
  fs: FsSeam,
  prepared: PreparedContent,
  options: Partial<RetryPolicy> & { beforePublish?: () => Promise<void> },
): Promise<Map<string, StorageError>> {
  const { beforePublish = async () => undefined, ...retry } = options;
  const failed = new Map(prepared.failed);
  const done: string[] = [];
  await Promise.all(
    prepared.changes.map(async (change) => {
      let temp = 'temp' in change ? change.temp : null;
      try {
        await beforePublish();
        if ('remove' in change) await withRetry(() => removeFile(fs, change.path), retry);
        else {
          await withRetry(async () => {
            try {
              await fs.rename(temp!, change.path);
            } catch (err) {
              // Our temp file was removed underneath us (an operator, a
              // sweeper): write it again, and let the retry rename that one.
              if (errnoCode(err) === 'ENOENT') temp = await writeTemp(fs, change.path, change.text);
              throw err;
            }
          }, retry);
        }
        done.push(change.path);
      } catch (err) {
        failed.set(change.path, ioError(err, change.path));
        if (temp !== null) await removeTemp(fs, temp);
      }
    }),
  );
  const dirs = new Map<string, string[]>();
  for (const path of done) {
    const dir = dirname(path);
    dirs.set(dir, [...(dirs.get(dir) ?? []), path]);
  }
  await Promise.all(
    [...dirs].map(async ([dir, paths]) => {
      try {
        await withRetry(() => fsyncDirectory(fs, dir), retry);
      } catch (err) {
        for (const path of paths) failed.set(path, ioError(err, path));
      }
    }),
  );
  return failed;
}

/** Removes the temp files of a prepared batch that will not be published (the first commit failed). */
export async function discardPreparedContent(fs: FsSeam, prepared: PreparedContent): Promise<void> {
  await Promise.all(prepared.changes.map((change) => ('temp' in change ? removeTemp(fs, change.temp) : undefined)));
}

async function writeTemp(fs: FsSeam, path: string, text: string): Promise<string> {
  const temp = makeTempName(path);
  const file = await fs.open(temp, 'wx');
  try {
    try {
      await file.writeAll(text);
      await file.sync();
    } finally {
      await file.close();
    }
  } catch (err) {
    await removeTemp(fs, temp);
    throw err;
  }
  return temp;
}

async function removeFile(fs: FsSeam, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err; // already gone is the goal state
  }
}

/** Best effort: the write's own error is what the caller needs; a temp of ours that cannot be removed now is swept once this process is gone. */
async function removeTemp(fs: FsSeam, temp: string): Promise<void> {
  await fs.unlink(temp).catch(() => undefined);
}

function ioError(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = errnoCode(err) ?? 'UNKNOWN';
  return new StorageError('STORAGE_IO', `could not write ${path.split(/[\\/]/).slice(-2).join('/')}: ${code}`, { errno: code }, { cause: err });
}
