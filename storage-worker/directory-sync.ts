import { errnoCode, type FsSeam } from './fs-seam.js';

/**
 * fsync a directory so renames and unlinks in it are on disk. Windows has no
 * directory fsync (NTFS journals the rename itself) and some file systems
 * refuse it (EINVAL, ENOTSUP): there it is a no-op we cannot have, not a failure.
 */
export async function fsyncDirectory(fs: FsSeam, dir: string): Promise<void> {
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
