/**
 * The media library routes the editor's front end uses: list, upload,
 * metadata, delete, bulk delete, usage, refresh. Records live in media.json
 * and are only touched through the storage API; binaries are this server's:
 * written before their records are committed, removed after their records
 * are deleted.
 */
import { z } from 'zod';
import { MAX_METADATA_LENGTH, metadataFieldsFor, type MediaRecord, type MetadataPatch } from '../../shared/media-types.js';
import type { AppRouter, RouteDeps } from '../http/app-deps.js';
import { HttpError } from '../http/http-error.js';
import { ID_PATTERN } from '../../shared/ids.js';
import { requireId } from '../http/id-params.js';
import { readJsonBody } from '../http/json-body.js';
import { stripHtml } from '../http/strip-html.js';
import { validateBody } from '../http/validate-body.js';
import { commitUploads } from '../upload/commit-uploads.js';
import { receiveUploads } from '../upload/receive-uploads.js';
import { binaryPathsOf, removeFiles, reportRemoval } from '../upload/remove-binaries.js';
import { ensureUploadFolders } from '../upload/upload-folders.js';
import { directoryBlobStore } from '../blob-store/directory-blob-store.js';
import { realUploadFs } from '../upload/upload-fs.js';
import { uploadsDirOf } from '../../shared/project-paths.js';

const text = z.string().max(MAX_METADATA_LENGTH, `must be at most ${MAX_METADATA_LENGTH} characters`).nullable().optional();
const MetadataBody = z.object({ alt: text, title: text, caption: text, description: text });

const BulkDeleteBody = z.object({
  fileIds: z.array(z.string()).min(1, 'must list at least one id').max(1000, 'must list at most 1000 ids'),
});


export function mediaRoutes(router: AppRouter, deps: RouteDeps): void {
  const { storage, config, dataDir, logger } = deps;
  const uploadFs = deps.uploadFs ?? realUploadFs;
  const blobs = deps.blobs ?? directoryBlobStore;
  const nameClaim = deps.uploadNameClaim ?? 'exclusive-create';
  const base = '/api/media/projects/:projectId';

  router.get(`${base}/media`, async (ctx) => {
    const json = await storage.listMediaJson(requireId(ctx.params.projectId, 'projectId'));
    ctx.type = 'application/json';
    ctx.body = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  });

  router.post(`${base}/media`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    if (!ctx.is('multipart/form-data')) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Expected a multipart/form-data upload (field \`files\`), got ${JSON.stringify(ctx.get('content-type'))}`);
    }
    const declared = ctx.request.length;
    if (declared !== undefined && declared > config.maxRequestBytes) {
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `The upload request is larger than ${config.maxRequestBytes} bytes`, { limit: config.maxRequestBytes }, { Connection: 'close' });
    }
    // An unknown project is refused before a byte of the body is stored.
    const project = await storage.getProject(projectId);
    const uploadsDir = uploadsDirOf(dataDir, project.folder);
    const changedDirs = await ensureUploadFolders(uploadsDir, projectId, nameClaim);

    const { prepared, rejected } = await receiveUploads(ctx.req, {
      uploadsDir,
      limits: config.uploadLimits,
      maxImagePixels: config.maxImagePixels,
      fs: uploadFs,
      blobs,
      nameClaim,
      maxFiles: config.maxFilesPerRequest,
      maxRequestBytes: config.maxRequestBytes,
      field: 'files',
    });
    if (prepared.length === 0) {
      if (rejected.length === 0) throw new HttpError(400, 'NO_FILES', 'The request holds no file in the `files` field');
      throw new HttpError(400, 'UPLOAD_REJECTED', `No file was accepted (${rejected.length} rejected)`, {
        message: 'No file was uploaded',
        processedFiles: [],
        rejectedFiles: rejected,
      });
    }

    // Durable before acknowledged; binaries removed only when their records are certainly not stored.
    const records = await commitUploads({ storage, fs: uploadFs, blobs, logger, requestId: ctx.state.requestId, projectId }, prepared, changedDirs);
    ctx.status = 201;
    ctx.body = {
      message: `${records.length} file${records.length === 1 ? '' : 's'} uploaded${rejected.length > 0 ? `, ${rejected.length} rejected` : ''}`,
      processedFiles: records,
      rejectedFiles: rejected,
    };
  });

  router.put(`${base}/media/:fileId/metadata`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const fileId = requireId(ctx.params.fileId, 'fileId');
    const body = validateBody(MetadataBody, await readJsonBody(ctx, config.jsonBodyLimit));
    const record = await storage.getMedia(projectId, fileId);
    const keys = metadataFieldsFor(record.type);
    const patch: MetadataPatch = {};
    for (const key of keys) {
      const value = body[key];
      if (value !== undefined) patch[key] = stripHtml(value ?? '');
    }
    if (Object.keys(patch).length === 0) {
      throw new HttpError(400, 'INVALID_INPUT', `Nothing to update: a ${record.type} file keeps ${keys.join(', ')}`, { fields: keys });
    }
    const file = await storage.updateMetadata(projectId, fileId, patch);
    ctx.body = { message: 'Metadata updated', file };
  });

  router.delete(`${base}/media/:fileId`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const fileId = requireId(ctx.params.fileId, 'fileId');
    // The in-use check happens inside the worker's commit, so a page save
    // racing this delete either lands first (→ MEDIA_IN_USE, 409) or finds no file.
    const deleted = await storage.deleteMediaFile(projectId, fileId);
    await removeBinaries(deps, projectId, [deleted], ctx.state.requestId);
    ctx.body = { success: true, message: `${deleted.filename} deleted`, fileId: deleted.id, filename: deleted.filename };
  });

  router.post(`${base}/media/bulk-delete`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const body = validateBody(BulkDeleteBody, await readJsonBody(ctx, config.jsonBodyLimit));
    const bad = body.fileIds.find((id) => !ID_PATTERN.test(id));
    if (bad !== undefined) requireId(bad, 'fileIds[]');
    const result = await storage.deleteMedia(projectId, [...new Set(body.fileIds)]);
    await removeBinaries(deps, projectId, result.deleted, ctx.state.requestId);
    ctx.body = {
      message: `${result.deleted.length} deleted, ${result.inUse.length} in use and kept, ${result.notFound.length} not found`,
      deletedCount: result.deleted.length,
      deleted: result.deleted.map((r) => r.id),
      filesInUse: result.inUse.map((u) => ({ id: u.id, filename: u.filename, usedIn: u.usedIn })),
      notFound: result.notFound,
    };
  });

  router.get(`${base}/media/:fileId/usage`, async (ctx) => {
    ctx.body = await storage.usage(requireId(ctx.params.projectId, 'projectId'), requireId(ctx.params.fileId, 'fileId'));
  });

  router.post(`${base}/refresh-usage`, async (ctx) => {
    const result = await storage.refreshUsage(requireId(ctx.params.projectId, 'projectId'));
    ctx.body = {
      success: true,
      message: `Usage rebuilt from ${result.sources} saved source${result.sources === 1 ? '' : 's'}; ${result.filesInUse} file${result.filesInUse === 1 ? '' : 's'} in use`,
      sources: result.sources,
      filesInUse: result.filesInUse,
    };
  });
}

/** After the records are gone: remove their variants and originals; failures are logged, not fatal. */
async function removeBinaries(deps: RouteDeps, projectId: string, records: readonly MediaRecord[], requestId: string): Promise<void> {
  const uploadsDir = uploadsDirOf(deps.dataDir, (await deps.storage.getProject(projectId)).folder);
  const failures = await removeFiles(deps.blobs ?? directoryBlobStore, records.flatMap((r) => binaryPathsOf(uploadsDir, r)));
  reportRemoval(deps.logger, requestId, failures);
}
