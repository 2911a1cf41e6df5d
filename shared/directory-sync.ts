/**
 * fsync a directory so renames, links and unlinks in it are on disk: the
 * storage worker (through its file seam) and the upload code (through
 * node:fs) both need it, with the same rule for where it cannot be had.
 * Windows has no directory fsync (NTFS journals the rename itself) and some
 * file systems refuse it (EINVAL, ENOTSUP): there it is a no-op we cannot
 * have, not a failure.
 */
import { errnoCode } from './errno.js';

/** What opening a directory needs: the worker's FsSeam and node:fs/promises both fit. */
export interface DirectoryOpener {
  open(path: string, flags: string): Promise<{ sync(): Promise<void>; close(): Promise<void> }>;
}

export async function fsyncDirectory(fs: DirectoryOpener, dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

const DIR_FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP']);
