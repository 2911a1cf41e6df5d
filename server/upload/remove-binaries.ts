/**
 * Removes stored binaries: after a failed commit of new records (only those
 * the storage confirmed are not stored, see confirm-not-stored.ts), and after
 * records were deleted through the storage worker. Size variants go before the
 * original, so a crash in between leaves an original without some variants
 * (harmless) rather than orphaned variants. Missing files are fine (already
 * gone); the blob store retries what may pass and reports the rest, never
 * thrown: the record is already gone and the orphan is the maintenance
 * command's job.
 */
import { join } from 'node:path';
import type { HostLogger as Logger } from '../../shared/host-logger.js';
import type { MediaRecord } from '../../shared/media-types.js';
import type { BlobRemovalFailure, BlobStore } from '../blob-store/blob-store.js';
import { folderOfPath } from '../../shared/project-paths.js';

export type RemovalFailure = BlobRemovalFailure;

export async function removeFiles(blobs: BlobStore, paths: readonly string[]): Promise<RemovalFailure[]> {
  return blobs.remove(paths);
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
