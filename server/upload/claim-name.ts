/**
 * Claims a unique stored name in an upload folder. The claim *is* the
 * exclusive create (`wx`): there is no "check if free, then write" window, so
 * two uploads of `photo.jpg` at the same moment — from one request or from
 * ten — end up in `photo.jpg` and `photo-1.jpg`, and neither overwrites the
 * other.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../shared/errors.js';
import { errnoCode } from '../../shared/errno.js';
import { ioError } from '../io-error.js';
import { storedNameCandidate } from './slug.js';

export interface ClaimedName {
  filename: string;
  /** absolute path of the claimed (empty, open) file */
  path: string;
  handle: FileHandle;
}

/** Suffixes tried before giving up; thousands of same-named uploads is not a real library. */
const MAX_ATTEMPTS = 10_000;

export async function claimName(dir: string, slug: string, ext: string): Promise<ClaimedName> {
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    const filename = `${storedNameCandidate(slug, n)}.${ext}`;
    const path = join(dir, filename);
    try {
      const handle = await open(path, 'wx', 0o644);
      return { filename, path, handle };
    } catch (err) {
      const errno = errnoCode(err);
      if (errno === 'EEXIST') continue;
      // The folder vanished under us: the project was deleted during the upload.
      if (errno === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', 'the project was deleted during the upload');
      throw ioError(err, `Creating ${filename}`);
    }
  }
  throw new StorageError('STORAGE_IO', `No free name for ${slug}.${ext} after ${MAX_ATTEMPTS} attempts`);
}
