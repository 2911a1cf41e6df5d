/**
 * Where a project's binaries live, and the one parser of record paths
 * (`/uploads/<folder>/<filename>`). Every path built here comes from a
 * validated project id plus a folder from the fixed set plus a name that
 * passed FILENAME_PATTERN, so nothing can point outside the upload folders.
 */
import { join } from 'node:path';
import type { MediaFolder } from '../../shared/media-types.js';
import { FILENAME_PATTERN } from '../http/id-params.js';

export const MEDIA_FOLDERS: readonly MediaFolder[] = ['images', 'videos', 'audios', 'files'];

export function isMediaFolder(value: string | undefined): value is MediaFolder {
  return MEDIA_FOLDERS.some((f) => f === value);
}

/**
 * `<dataDir>/projects/<folder>/uploads`. `folder` is the project's folder as
 * the storage reports it (`ProjectInfo.folder`): an editor project's URL id
 * is a UUID while its files live under its `folderName`.
 */
export function uploadsDirOf(dataDir: string, folder: string): string {
  return join(dataDir, 'projects', folder, 'uploads');
}

/** `/uploads/images/a.jpg` (or without the leading slash) → { folder, filename }; undefined for anything else. */
export function folderOfPath(path: string): { folder: MediaFolder; filename: string } | undefined {
  const m = /^\/?uploads\/([a-z]+)\/([^/\\]+)$/.exec(path);
  const folder = m?.[1];
  const filename = m?.[2];
  if (!isMediaFolder(folder) || filename === undefined || !FILENAME_PATTERN.test(filename)) return undefined;
  return { folder, filename };
}
