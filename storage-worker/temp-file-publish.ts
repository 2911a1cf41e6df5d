/**
 * The one temp-write-and-publish routine of the storage worker. Every file
 * that must appear complete or not at all — media.json and projects.json
 * (atomic-json-file.ts), content files (content-batch.ts), project.json
 * claims (project-folders.ts), lock stamps and break claims (lock-stamp.ts),
 * the generation nonce (generation-file.ts) — is written here:
 *
 *   1. create a temp file with a name no other writer can hold
 *      (temp-file-name.ts), exclusively ('wx'), beside the target;
 *   2. write all bytes (then `afterWrite`, e.g. the mtime bump), fsync, close;
 *   3. `beforePublish` (the lock's fence, the backup step): a throw aborts
 *      with nothing published;
 *   4. publish: rename over the target (replace), or link onto it (claim:
 *      EEXIST means another party has it, answered as 'taken');
 *   5. fsync the directory, if the caller asks (a batch of files asks once
 *      for all of them, after the last).
 * Whatever happens, our temp file is gone afterwards (`finally`), and the
 * target is the old file or the new one, never a mix.
 *
 * Why the temp is fsynced before a link too: a link() published without it
 * can survive a power cut while the bytes do not (ext4 delayed allocation),
 * leaving a lock name with an empty file that nobody can judge.
 */
import { dirname } from 'node:path';
import { fsyncDirectory } from '../shared/directory-sync.js';
import { errnoCode, type FsFile, type FsSeam } from './fs-seam.js';
import { makeTempName } from './temp-file-name.js';

/** The step about to run, for callers that report where a write failed. */
export type PublishStep = 'open-temp' | 'write-temp' | 'fsync-temp' | 'close-temp' | 'publish' | 'fsync-dir';

export interface PublishOptions {
  /** 'rename' replaces the target; 'link' creates it only if absent ('taken' otherwise) */
  by: 'rename' | 'link';
  /** mode of the temp file (default: open's default, 0o666 less the umask) */
  mode?: number;
  /**
   * fsync the temp before publishing (default true). Only a file that need
   * not survive a power cut may skip it (generation-file.ts says why it may).
   */
  syncTemp?: boolean;
  /** after the bytes are written, before the fsync: the descriptor and temp path (AtomicJsonFile's mtime bump) */
  afterWrite?: (file: FsFile, temp: string) => Promise<void>;
  /** right before publishing; a throw aborts the write with nothing published */
  beforePublish?: () => Promise<void>;
  /** fsync the target's directory once published (default false) */
  syncDirectory?: boolean;
  /** told of each step before it runs */
  onStep?: (step: PublishStep) => void;
  /**
   * A cleanup (closing the temp after a failure, removing the temp) failed.
   * Default: ignored, since the caller's own error is what matters and the
   * leftover sweep removes our temp once this process is gone. A throw from
   * here fails the publish (with the target already published, if it was).
   */
  onCleanupError?: (err: unknown, temp: string) => void;
}

/** 'published': the target now holds the data; 'taken': link only, the target already existed. */
export type PublishResult = 'published' | 'taken';

export async function publishFile(fs: FsSeam, target: string, data: string | Uint8Array, options: PublishOptions): Promise<PublishResult> {
  const { onStep = () => undefined, onCleanupError = () => undefined } = options;
  const temp = makeTempName(target);
  let file: FsFile | undefined;
  // Only a file we created is ours to remove: an open that failed (even with EEXIST) created nothing of ours.
  let tempExists = false;
  try {
    onStep('open-temp');
    file = options.mode === undefined ? await fs.open(temp, 'wx') : await fs.open(temp, 'wx', options.mode);
    tempExists = true;
    onStep('write-temp');
    await file.writeAll(data);
    await options.afterWrite?.(file, temp);
    if (options.syncTemp ?? true) {
      onStep('fsync-temp');
      await file.sync();
    }
    onStep('close-temp');
    const closing = file;
    file = undefined; // a failed close still releases the descriptor: never close twice
    await closing.close();
    await options.beforePublish?.();
    onStep('publish');
    if (options.by === 'rename') {
      await fs.rename(temp, target);
      tempExists = false; // the temp name is gone: it is the target now
    } else {
      try {
        await fs.link(temp, target);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') return 'taken';
        throw err;
      }
    }
    if (options.syncDirectory) {
      onStep('fsync-dir');
      await fsyncDirectory(fs, dirname(target));
    }
    return 'published';
  } finally {
    if (file !== undefined) {
      try {
        await file.close();
      } catch (err) {
        onCleanupError(err, temp);
      }
    }
    if (tempExists) {
      try {
        await unlinkIfPresent(fs, temp);
      } catch (err) {
        onCleanupError(err, temp);
      }
    }
  }
}

/**
 * Removes `path`: true when this call removed it, false when it was already
 * gone (removed underneath us, or by another party) — the goal either way.
 */
export async function unlinkIfPresent(fs: FsSeam, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
