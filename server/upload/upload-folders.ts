/**
 * Makes sure a project's upload folders exist before an upload claims names
 * in them. Deliberately not `mkdir -p`: a project deleted while the request
 * was on its way must not be brought back as an empty directory (the storage
 * treats any directory under projects/ as a project). Only `uploads/` and
 * its four folders are created, and only inside an existing project
 * directory.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StorageError } from '../../shared/errors.js';
import { errnoCode } from '../../shared/errno.js';
import { ioError } from '../io-error.js';
import type { NameClaim } from './upload-name-claim.js';
import { MEDIA_FOLDERS } from '../../shared/project-paths.js';

/** Returns the directories that gained an entry (parents of what was created): they need an fsync before the upload is acknowledged. */
export async function ensureUploadFolders(uploadsDir: string, projectId: string, nameClaim: NameClaim = 'exclusive-create'): Promise<string[]> {
  const changed: string[] = [];
  // With a database backend the project is a row, not a directory: the
  // storage has just confirmed it exists, so its folder may be made here.
  const parents = nameClaim === 'storage-record' ? [dirname(dirname(uploadsDir)), dirname(uploadsDir)] : [];
  for (const dir of [...parents, uploadsDir, ...MEDIA_FOLDERS.map((f) => join(uploadsDir, f))]) {
    try {
      await mkdir(dir);
      changed.push(dirname(dir));
    } catch (err) {
      const errno = errnoCode(err);
      if (errno === 'EEXIST') continue;
      if (errno === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
      throw ioError(err, 'Creating the upload folders');
    }
  }
  return changed;
}
