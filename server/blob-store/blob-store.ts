/**
 * Where uploaded binaries live: the seam between the upload and serving code
 * and the bytes (issue 10). The default is a directory (`DirectoryBlobStore`:
 * the local disk, or a volume every server mounts); the upload code never
 * calls node:fs for a binary's name or bytes itself.
 *
 * A blob is named by its absolute location `<dataDir>/projects/<folder>/uploads/<media folder>/<name>`
 * (shared/project-paths.ts builds them): a store other than a directory maps that
 * name to its own keys.
 *
 * Two ways to create a blob, one per way of claiming its name
 * (upload-name-claim.ts):
 * - `createExclusive`: the name *is* claimed by creating it (the file
 *   backend, where binaries and media.json share one disk);
 * - `createStaged` + `publish`: the bytes go to a unique staging name, the
 *   name is claimed elsewhere (the database's unique paths), and only then
 *   is the blob published under it.
 */
import type { FileHandle } from 'node:fs/promises';

/** A blob being written: the caller writes through `handle`, then `sync`s and closes it. */
export interface BlobWriter {
  /** where the bytes are while written (the final name, or a staging name) */
  location: string;
  handle: FileHandle;
}

/** A stored blob opened for reading, with what Range and ETag need. */
export interface OpenBlob {
  handle: FileHandle;
  size: number;
  mtimeMs: number;
}

export interface BlobRemovalFailure {
  path: string;
  errno: string;
}

export interface BlobStore {
  /** Creates `location` if no blob has that name; `undefined` when the name is taken. PROJECT_NOT_FOUND when its folder is gone. */
  createExclusive(location: string): Promise<BlobWriter | undefined>;
  /** Creates a blob under a fresh staging name in `dir` (never served: the name starts with a dot). */
  createStaged(dir: string, ext: string): Promise<BlobWriter & { stem: string }>;
  /**
   * Writes a whole blob whose name is already the caller's (a size variant,
   * named after its claimed original), replacing what is there, and syncs it
   * through `sync` before closing (UploadFs in the server, so tests record
   * and fail it).
   */
  put(location: string, data: Buffer, sync: (handle: FileHandle) => Promise<void>): Promise<void>;
  /**
   * Moves a finished staged blob to its final name (replacing an orphan of
   * that name). Durable once its folder is fsynced (UploadFs, which tests record).
   */
  publish(staged: string, location: string): Promise<void>;
  /** Opens a blob for reading; `undefined` when there is none (or it is not a regular file, or a symlink). */
  open(location: string): Promise<OpenBlob | undefined>;
  exists(location: string): Promise<boolean>;
  /** Removes blobs (a missing one is fine); failures are returned, never thrown. */
  remove(locations: readonly string[]): Promise<BlobRemovalFailure[]>;
  /**
   * Removes a deleted project's folder `<dataDir>/projects/<folder>` and every blob in it (a missing
   * folder is fine); failures are returned, never thrown. Only for a backend that keeps its libraries
   * elsewhere (PostgreSQL): the file backend removes the folder itself, media.json and all.
   */
  removeProjectFolder(location: string): Promise<BlobRemovalFailure[]>;
}
