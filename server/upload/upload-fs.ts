/**
 * The fsyncs that make an upload durable before its 201 (issue 10), behind
 * a small seam so tests can record them (and fail them) on a real server.
 * The storage worker has its own seam; server code does not import it.
 *
 * Why each one: a file's data may sit in the page cache after close(), so
 * without fsync a power loss can leave an acknowledged upload empty; a new
 * name lives in its directory, so without a directory fsync the file (or a
 * folder made for it) can be missing altogether. Both happen before the
 * record is committed: a record must never point at bytes that are not on
 * disk.
 */
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { fsyncDirectory } from '../../shared/directory-sync.js';

export interface UploadFs {
  /** fsync an open file written for an upload (`path` names it, for the record) */
  syncFile(handle: FileHandle, path: string): Promise<void>;
  /** fsync a directory, so the names created in it are on disk */
  syncDirectory(path: string): Promise<void>;
}

export const realUploadFs: UploadFs = {
  syncFile: (handle) => handle.sync(),
  syncDirectory: (path) => fsyncDirectory(fsp, path),
};

/** fsyncs each directory once (a request's files usually share one folder). */
export async function syncDirectories(fs: UploadFs, dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) await fs.syncDirectory(dir);
}
