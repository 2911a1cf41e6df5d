/**
 * Serving stored binaries: by record id, or by folder and stored name (the
 * `/uploads/...` URLs that saved pages contain). The name is checked against
 * FILENAME_PATTERN and the folder against the fixed set before any path is
 * built, so `..`, `/`, `\` and NUL — encoded or not — never reach the file
 * system.
 */
import { join } from 'node:path';
import { StorageError } from '../../shared/errors.js';
import type { AppRouter, RouteDeps } from '../http/app-deps.js';
import { HttpError } from '../http/http-error.js';
import { requireFilename, requireId } from '../http/id-params.js';
import { directoryBlobStore } from '../blob-store/directory-blob-store.js';
import { FileMissing, sendFile } from '../serve/send-file.js';
import { folderOfPath, isMediaFolder, uploadsDirOf } from '../../shared/project-paths.js';

export function mediaFileRoutes(router: AppRouter, { storage, dataDir, blobs = directoryBlobStore }: RouteDeps): void {
  router.get('/api/media/projects/:projectId/media/:fileId', async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const fileId = requireId(ctx.params.fileId, 'fileId');
    const record = await storage.getMedia(projectId, fileId);
    const location = folderOfPath(record.path);
    if (!location) throw new StorageError('MEDIA_NOT_FOUND', `Media ${fileId} has no servable path`);
    const { folder } = await storage.getProject(projectId);
    try {
      await sendFile(ctx, blobs, join(uploadsDirOf(dataDir, folder), location.folder, location.filename), location.filename);
    } catch (err) {
      if (err instanceof FileMissing) throw new StorageError('MEDIA_NOT_FOUND', `The binary of media ${fileId} (${record.filename}) is missing`);
      throw err;
    }
  });

  router.get('/api/media/projects/:projectId/uploads/:folder/:filename', async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const folder = ctx.params.folder;
    if (!isMediaFolder(folder)) throw new HttpError(404, 'NOT_FOUND', `No upload folder ${JSON.stringify(folder)}`);
    const filename = requireFilename(ctx.params.filename);
    // An unknown project is PROJECT_NOT_FOUND; a known one tells where its files live.
    const project = await storage.getProject(projectId);
    try {
      await sendFile(ctx, blobs, join(uploadsDirOf(dataDir, project.folder), folder, filename), filename);
    } catch (err) {
      if (!(err instanceof FileMissing)) throw err;
      throw new StorageError('MEDIA_NOT_FOUND', `No file ${folder}/${filename} in project ${projectId}`);
    }
  });
}
