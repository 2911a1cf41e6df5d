/**
 * Removes stored binaries: after a failed commit of new records (only those
 * the storage confirmed are not stored, see confirm-not-stored.ts), and after
 * records were deleted through the storage worker. Size variants go before the
 * original, so a crash in between leaves an original without some variants
 * (harmless) rather than orphaned variants. Missing files are fine (already
 * gone); other failures are retried briefly (Windows reports EPERM/EBUSY
 * while a file is open elsewhere) and then reported, never thrown: the record
 * is already gone and the orphan is the maintenance command's job.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostLogger as Logger } from '../../shared/host-logger.js';
import type { MediaRecord } from '../../shared/media-types.js';
import { errnoCode } from '../../shared/errno.js';
import { folderOfPath } from '../../shared/project-paths.js';

const RETRYABLE = new Set(['EPERM', 'EBUSY', 'EACCES', 'EAGAIN']);
const ATTEMPTS = 4;

export interface RemovalFailure {
  path: string;
  errno: string;
}

export async function removeFiles(paths: readonly string[]): Promise<RemovalFailure[]> {
  const failures: RemovalFailure[] = [];
  for (const path of paths) {
    const failure = await removeOne(path);
    if (failure) failures.push(failure);
  }
  return failures;
}

/** Removal failures are logged, never thrown: the orphan left is the doctor command's job. */
export function reportRemoval(logger: Logger, requestId: string, failures: readonly RemovalFailure[]): void {
  if (failures.length > 0) logger.warn({ requestId, failures }, 'binaries could not be removed; the doctor command will clean them up');
}

/** Absolute paths of a record's variants and original, variants first; paths that do not look like ours are skipped. */
export function binaryPathsOf(uploadsDir: string, record: Pick<MediaRecord, 'path' | 'sizes'>): string[] {
  const out: string[] = [];
  for (const variant of Object.values(record.sizes ?? {})) {
    const rel = folderOfPath(variant.path);
    if (rel) out.push(join(uploadsDir, rel.folder, rel.filename));
  }
  const original = folderOfPath(record.path);
  if (original) out.push(join(uploadsDir, original.folder, original.filename));
  return out;
}

async function removeOne(path: string): Promise<RemovalFailure | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await unlink(path);
      return undefined;
    } catch (err) {
      const errno = errnoCode(err) ?? 'UNKNOWN';
      if (errno === 'ENOENT') return undefined;
      if (!RETRYABLE.has(errno) || attempt >= ATTEMPTS) return { path, errno };
      await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
    }
  }
}
