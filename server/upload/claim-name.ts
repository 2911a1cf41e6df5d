/**
 * Claims a unique stored name in an upload folder by exclusive create (the
 * file backend's way, see upload-name-claim.ts). The claim *is* the
 * exclusive create (`wx`): there is no "check if free, then write" window, so
 * two uploads of `photo.jpg` at the same moment — from one request or from
 * ten — end up in `photo.jpg` and `photo-1.jpg`, and neither overwrites the
 * other.
 */
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../shared/errors.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import { ioError } from '../io-error.js';
import { storedNameCandidate } from './slug.js';

export interface ClaimedName {
  filename: string;
  /** absolute path of the claimed (empty, open) file */
  path: string;
  handle: FileHandle;
}

/** Suffixes tried before giving up; thousands of same-named uploads is not a real library. */
export const MAX_NAME_ATTEMPTS = 10_000;

export async function claimName(blobs: BlobStore, dir: string, slug: string, ext: string): Promise<ClaimedName> {
  for (let n = 0; n < MAX_NAME_ATTEMPTS; n++) {
    const filename = `${storedNameCandidate(slug, n)}.${ext}`;
    const path = join(dir, filename);
    try {
      const created = await blobs.createExclusive(path);
      if (created) return { filename, path, handle: created.handle };
    } catch (err) {
      throw ioError(err, `Creating ${filename}`);
    }
  }
  throw new StorageError('STORAGE_IO', `No free name for ${slug}.${ext} after ${MAX_NAME_ATTEMPTS} attempts`);
}
