/**
 * The last steps of an upload, in the order that keeps a record from ever
 * pointing at missing bytes: fsync the folders that gained a name (the
 * files themselves were fsynced as they were written), commit the records,
 * and on a failed commit remove binaries only for records the storage
 * confirms are not stored (confirm-not-stored.ts).
 */
import { dirname } from 'node:path';
import type { HostLogger as Logger } from '../../shared/host-logger.js';
import { StorageError } from '../../shared/errors.js';
import type { MediaRecord } from '../../shared/media-types.js';
import type { StorageApi } from '../../shared/storage-api.js';
import { ioError } from '../io-error.js';
import { confirmNotStored } from './confirm-not-stored.js';
import type { PreparedFile } from './file-receiver.js';
import { removeFiles, reportRemoval } from './remove-binaries.js';
import { syncDirectories, type UploadFs } from './upload-fs.js';

export interface CommitContext {
  storage: StorageApi;
  fs: UploadFs;
  logger: Logger;
  requestId: string;
  projectId: string;
}

/**
 * @param changedDirs directories that gained an entry before the files were
 *   written (upload folders made for this request)
 */
export async function commitUploads(ctx: CommitContext, prepared: readonly PreparedFile[], changedDirs: readonly string[]): Promise<MediaRecord[]> {
  const allPaths = prepared.flatMap((p) => p.paths);
  try {
    await syncDirectories(ctx.fs, [...changedDirs, ...allPaths.map((p) => dirname(p))]);
  } catch (err) {
    // Nothing was committed yet: the binaries are certainly ours to remove.
    reportRemoval(ctx.logger, ctx.requestId, await removeFiles(allPaths));
    throw ioError(err, 'Syncing the upload folders');
  }

  try {
    return await ctx.storage.addMedia(ctx.projectId, prepared.map((p) => p.record));
  } catch (err) {
    const absent = await confirmNotStored(ctx.storage, ctx.projectId, prepared.map((p) => p.record.id));
    if (absent === undefined) {
      ctx.logger.warn(
        { requestId: ctx.requestId, projectId: ctx.projectId, ids: prepared.map((p) => p.record.id), err },
        'upload commit failed and the storage could not confirm the records absent: binaries kept (the doctor command reports orphans)',
      );
      throw new StorageError('STORAGE_UNAVAILABLE', 'the upload failed and the storage could not confirm whether its records were stored', { binariesKept: true }, { cause: err });
    }
    const removable = prepared.filter((p) => absent.has(p.record.id)).flatMap((p) => p.paths);
    reportRemoval(ctx.logger, ctx.requestId, await removeFiles(removable));
    throw err;
  }
}
