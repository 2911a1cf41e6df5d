/**
 * After a failed record commit: which of the new records are definitely not
 * in media.json, so their binaries may be removed (issue 7).
 *
 * A failed `addMedia` does not prove its records absent: the directory fsync
 * can fail after the rename (the record is in the file), the call's deadline
 * can pass while the worker still commits, the worker can die after a
 * durable commit. Removing the binaries then leaves the library listing a
 * file whose bytes are gone.
 *
 * So the storage is asked to settle it with `deleteMedia` of the new ids:
 * the worker applies operations in arrival order, so this runs after the
 * failed `addMedia` whatever became of it, and its answer is final — an id is
 * either deleted now or was never there; in both cases it is not stored and
 * its binaries can go. A read (`getMedia`) would not do: a read waits only for
 * the commit in flight, and an `addMedia` still queued behind that commit
 * could land after the read answered "not found". An id found in use (a page
 * already refers to it) stays, with its binaries.
 *
 * When the storage cannot answer (worker gone, lock busy, disk failing) the
 * answer is `undefined`: keep every binary. An orphan file is harmless (the
 * doctor command reports and removes it); a record without bytes is not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { withDeadline } from '../../shared/deadline.js';
import { StorageError } from '../../shared/errors.js';
import type { StorageApi } from '../../shared/storage-api.js';

/** Tries (each bounded by the storage client's call deadline), with these pauses between them. */
const PAUSES_MS = [50, 250];
/** The whole question is bounded too: the client is waiting for its answer. */
const DEADLINE_MS = 10_000;

// Not STORAGE_IO: a settle whose own commit hit a disk error (its rename not
// proven durable) is no definite answer; keep the binaries then.
const RETRYABLE = new Set(['STORAGE_UNAVAILABLE', 'LOCK_TIMEOUT']);

export async function confirmNotStored(storage: StorageApi, projectId: string, ids: readonly string[]): Promise<Set<string> | undefined> {
  return withDeadline(ask(storage, projectId, ids), DEADLINE_MS, () => undefined);
}

async function ask(storage: StorageApi, projectId: string, ids: readonly string[]): Promise<Set<string> | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await storage.deleteMedia(projectId, [...ids]);
      return new Set([...result.deleted.map((r) => r.id), ...result.notFound]);
    } catch (err) {
      const code = err instanceof StorageError ? err.code : undefined;
      // The project itself is gone: nothing of it is listed any more.
      if (code === 'PROJECT_NOT_FOUND') return new Set(ids);
      const pause = PAUSES_MS[attempt];
      if (code === undefined || !RETRYABLE.has(code) || pause === undefined) return undefined;
      await sleep(pause);
    }
  }
}
