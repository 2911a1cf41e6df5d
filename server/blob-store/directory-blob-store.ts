/**
 * The default blob store: files in the upload folders, on the local disk or
 * on a volume every server mounts. Behaviour is the one the server always
 * had (exclusive create, O_NOFOLLOW reads, removal retried on the errors
 * Windows reports while a file is open elsewhere).
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../shared/errors.js';
import { errnoCode } from '../../shared/errno.js';
import type { BlobRemovalFailure, BlobStore, BlobWriter, OpenBlob } from './blob-store.js';

// O_NOFOLLOW: a symlink planted in an upload folder is not followed out of it.
// (Undefined on Windows, where the flag does not exist.)
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
const NOT_A_BLOB = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR']);
const REMOVE_RETRYABLE = new Set(['EPERM', 'EBUSY', 'EACCES', 'EAGAIN']);
const REMOVE_ATTEMPTS = 4;

export class DirectoryBlobStore implements BlobStore {
  async createExclusive(location: string): Promise<BlobWriter | undefined> {
    try {
      return { location, handle: await open(location, 'wx', 0o644) };
    } catch (err) {
      const errno = errnoCode(err);
      if (errno === 'EEXIST') return undefined;
      // The folder vanished under us: the project was deleted during the upload.
      if (errno === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', 'the project was deleted during the upload');
      throw err;
    }
  }

  async createStaged(dir: string, ext: string): Promise<BlobWriter & { stem: string }> {
    // A leading dot: FILENAME_PATTERN refuses it, so a staged blob is never served.
    const stem = `${STAGED_PREFIX}${randomUUID()}`;
    const location = join(dir, `${stem}.${ext}`);
    try {
      return { location, stem, handle: await open(location, 'wx', 0o644) };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', 'the project was deleted during the upload');
      throw err;
    }
  }

  async put(location: string, data: Buffer, sync: (handle: FileHandle) => Promise<void>): Promise<void> {
    const handle = await open(location, 'w', 0o644);
    try {
      await handle.writeFile(data);
      await sync(handle);
    } finally {
      await handle.close();
    }
  }

  async publish(staged: string, location: string): Promise<void> {
    await rename(staged, location);
  }

  async open(location: string): Promise<OpenBlob | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(location, READ_FLAGS);
    } catch (err) {
      if (NOT_A_BLOB.has(errnoCode(err) ?? '')) return undefined;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      return { handle, size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async exists(location: string): Promise<boolean> {
    try {
      await stat(location);
      return true;
    } catch (err) {
      if (NOT_A_BLOB.has(errnoCode(err) ?? '')) return false;
      throw err;
    }
  }

  async remove(locations: readonly string[]): Promise<BlobRemovalFailure[]> {
    const failures: BlobRemovalFailure[] = [];
    for (const path of locations) {
      const failure = await removeOne(path);
      if (failure) failures.push(failure);
    }
    return failures;
  }

  async removeProjectFolder(location: string): Promise<BlobRemovalFailure[]> {
    // Renamed away first, in one step: a project created again under the same folder right after
    // (another server) gets a fresh folder that the slow recursive removal below never touches,
    // and a crash halfway leaves one name nobody uses, which the doctor removes.
    const doomed = join(dirname(location), `${REMOVING_PREFIX}${basename(location)}-${randomUUID()}`);
    try {
      await rename(location, doomed);
    } catch (err) {
      const errno = errnoCode(err) ?? 'UNKNOWN';
      return errno === 'ENOENT' ? [] : [{ path: location, errno }];
    }
    try {
      await rm(doomed, { recursive: true, force: true, maxRetries: REMOVE_ATTEMPTS });
      return [];
    } catch (err) {
      return [{ path: doomed, errno: errnoCode(err) ?? 'UNKNOWN' }];
    }
  }
}

/** The name an upload's bytes are written under until its name is claimed: `.staged-<uuid>.<ext>` (upload-name-claim.ts). */
export const STAGED_PREFIX = '.staged-';

/** The name a deleted project's folder is renamed to before it is removed: `.removing-<folder>-<uuid>`. */
export const REMOVING_PREFIX = '.removing-';

async function removeOne(path: string): Promise<BlobRemovalFailure | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await unlink(path);
      return undefined;
    } catch (err) {
      const errno = errnoCode(err) ?? 'UNKNOWN';
      if (errno === 'ENOENT') return undefined;
      if (!REMOVE_RETRYABLE.has(errno) || attempt >= REMOVE_ATTEMPTS) return { path, errno };
      await sleep(20 * 2 ** attempt);
    }
  }
}

/** The store every server uses unless told otherwise. */
export const directoryBlobStore: BlobStore = new DirectoryBlobStore();
