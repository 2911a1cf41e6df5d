/**
 * Writes and removes the content files of one commit's batch (pages, global
 * widgets, theme) durably and atomically, as a group.
 *
 * Each file still goes through its own unique temp file, fsync and rename
 * (temp-file-publish.ts), so
 * no reader ever sees a half-written page and two writers never share a temp
 * file. What the group saves is everything that need not be per file: the
 * directory is fsynced once per directory for the whole batch (not once per
 * file), and no signature or backup work is done (content files have neither).
 * At 64 pages per batch that halves the file operations of the batch.
 */
import { dirname } from 'node:path';
import { StorageError } from '../shared/errors.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { fsyncDirectory } from '../shared/directory-sync.js';
import { withRetry, type RetryPolicy } from './retry-policy.js';
import { publishFile, unlinkIfPresent } from './temp-file-publish.js';

export type ContentChange = { path: string; text: string } | { path: string; remove: true };

/**
 * Applies every change; resolves to the error of each change that failed
 * (keyed by path) — a failure of one file does not fail the others. A file
 * counts as done only once its directory has been fsynced.
 */
export async function applyContentChanges(
  fs: FsSeam,
  changes: readonly ContentChange[],
  options: Partial<RetryPolicy> & {
    /** runs right before each rename or unlink that publishes a change; a throw fails that change (the lock's fence) */
    beforePublish?: () => Promise<void>;
  },
): Promise<Map<string, StorageError>> {
  const { beforePublish = async () => undefined, ...retry } = options;
  const failed = new Map<string, StorageError>();
  const done: string[] = [];
  // One fence for the changes whose temp files are ready together: each
  // rename is still preceded by a check, but a batch of 64 pages reads the
  // lock file a few times instead of 64 (those reads queue behind the
  // fsyncs in libuv's four-thread pool).
  const fence = sharedFence(beforePublish);
  await Promise.all(
    changes.map(async (change) => {
      try {
        await withRetry(
          () => ('remove' in change ? removeFile(fs, change.path, fence) : replaceFile(fs, change.path, change.text, fence)),
          retry,
        );
        done.push(change.path);
      } catch (err) {
        failed.set(change.path, ioError(err, change.path));
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

/**
 * A fence check shared by the callers that ask for it while it runs: a
 * caller arriving after a check started waits for the NEXT one, so no rename
 * relies on a check that began before its caller was ready to publish (the
 * window between a check and a rename stays as short as with one check per
 * rename).
 */
function sharedFence(check: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const run = check().finally(() => {
      if (running === run) running = null;
    });
    running = run;
    return run;
  };
  return () => {
    if (!running) return start();
    // Join the check that starts once the current one ends.
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}

/** One file through the shared routine; its directory is fsynced later, once for the batch. */
async function replaceFile(fs: FsSeam, path: string, text: string, beforePublish: () => Promise<void>): Promise<void> {
  await publishFile(fs, path, text, { by: 'rename', beforePublish });
}

async function removeFile(fs: FsSeam, path: string, beforePublish: () => Promise<void>): Promise<void> {
  await beforePublish();
  await unlinkIfPresent(fs, path); // already gone is the goal state
}


function ioError(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = errnoCode(err) ?? 'UNKNOWN';
  return new StorageError('STORAGE_IO', `could not write ${path.split(/[\\/]/).slice(-2).join('/')}: ${code}`, { errno: code }, { cause: err });
}
