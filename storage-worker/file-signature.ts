/**
 * A cheap identity of a file's current content, from its stat:
 * `dev:ino:size:mtimeNs` (bigint stats, so nanoseconds are not rounded away).
 *
 * Every atomic write renames a new inode in, so a write by any process changes
 * `ino` (and usually size and mtime); an in-place edit by hand changes mtime.
 * ctime is left out on purpose: our own rename and our backup hard link change
 * the target's ctime, and the signature returned by a write must equal what a
 * later stat of the target says.
 *
 * ino alone is no identity (ext4 reuses a freed inode number at once), so
 * AtomicJsonFile makes every version's mtime strictly later than the one it
 * replaces; with writers serialised by the project lock no two versions share
 * a signature even where timestamps only advance once per clock tick.
 */
import type { BigIntStats } from 'node:fs';
import { errnoCode, type FsSeam } from './fs-seam.js';

export function signatureOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/** The signature of the file at `path` now, or null when it does not exist. */
export async function statSignature(fs: FsSeam, path: string): Promise<string | null> {
  try {
    return signatureOf(await fs.stat(path));
  } catch (err) {
    // ENOENT is an answer ("no file"), not a failure; anything else is real.
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}
