/**
 * The last steps of an upload, in the order that keeps a record from ever
 * pointing at missing bytes: fsync the folders that gained a name (the
 * files themselves were fsynced as they were written), commit the records,
 * and on a failed commit remove binaries only for records the storage
 * confirms are not stored (confirm-not-stored.ts). Staged uploads
 * (upload-name-claim.ts) claim their names with that commit and are
 * published after it, before the answer.
 */
import { dirname } from 'node:path';
import type { HostLogger as Logger } from '../../shared/host-logger.js';
import { StorageError } from '../../shared/errors.js';
import type { MediaRecord } from '../../shared/media-types.js';
import type { StorageApi } from '../../shared/storage-api.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import { ioError } from '../io-error.js';
import { MAX_NAME_ATTEMPTS } from './claim-name.js';
import { confirmNotStored } from './confirm-not-stored.js';
import type { PreparedFile } from './file-receiver.js';
import { removeFiles, reportRemoval } from './remove-binaries.js';
import { syncDirectories, type UploadFs } from './upload-fs.js';
import { candidate, type Candidate, type StagedNames } from './upload-name-claim.js';

export interface CommitContext {
  storage: StorageApi;
  fs: UploadFs;
  blobs: BlobStore;
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
    reportRemoval(ctx.logger, ctx.requestId, await removeFiles(ctx.blobs, allPaths));
    throw ioError(err, 'Syncing the upload folders');
  }
  if (prepared.some((p) => p.staged)) return commitStaged(ctx, prepared);

  try {
    return await ctx.storage.addMedia(ctx.projectId, prepared.map((p) => p.record));
  } catch (err) {
    await removeUnstored(ctx, prepared.map((p) => ({ id: p.record.id, paths: p.paths })), err);
    throw err;
  }
}

/** Claims each file's name through `addMedia` (the next suffix when a path is taken), then publishes the staged blobs. */
async function commitStaged(ctx: CommitContext, prepared: readonly PreparedFile[]): Promise<MediaRecord[]> {
  const files = prepared.map((p) => ({ ...p, staged: p.staged as StagedNames }));
  const suffixes = files.map(() => 0);
  const stagedPaths = files.map((f) => ({ id: f.record.id, paths: f.paths }));
  for (let round = 0; ; round++) {
    let candidates: Candidate[];
    try {
      candidates = await freeCandidates(ctx.blobs, files, suffixes);
    } catch (err) {
      reportRemoval(ctx.logger, ctx.requestId, await removeFiles(ctx.blobs, files.flatMap((f) => f.paths)));
      throw ioError(err, 'Choosing an upload name');
    }
    let stored: MediaRecord[];
    try {
      stored = await ctx.storage.addMedia(ctx.projectId, candidates.map((c) => c.record));
    } catch (err) {
      const clash = clashingFile(err, candidates);
      if (clash !== undefined && round < MAX_NAME_ATTEMPTS) {
        suffixes[clash]! += 1;
        continue;
      }
      await removeUnstored(ctx, stagedPaths, err);
      throw err;
    }
    await publish(ctx, candidates);
    return stored;
  }
}

/** The next candidate of each file whose original is not in the blob store and not taken by another file of the request. */
async function freeCandidates(blobs: BlobStore, files: ReadonlyArray<Parameters<typeof candidate>[0]>, suffixes: number[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const taken = new Set<string>();
  for (const [i, file] of files.entries()) {
    for (;;) {
      const c = candidate(file, suffixes[i]!);
      if (!c.servedPaths.some((p) => taken.has(p)) && !(await blobs.exists(c.original))) {
        for (const p of c.servedPaths) taken.add(p);
        out.push(c);
        break;
      }
      suffixes[i]! += 1;
      if (suffixes[i]! >= MAX_NAME_ATTEMPTS) throw new StorageError('STORAGE_IO', `No free name for ${file.staged.slug}.${file.staged.ext} after ${MAX_NAME_ATTEMPTS} attempts`);
    }
  }
  return out;
}

/** The file whose path the storage refused as taken (INVALID_INPUT naming the path), if that was the refusal. */
function clashingFile(err: unknown, candidates: readonly Candidate[]): number | undefined {
  if (!(err instanceof StorageError) || err.code !== 'INVALID_INPUT') return undefined;
  const path = (err.details as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return undefined;
  const served = path.startsWith('/') ? path : `/${path}`;
  const index = candidates.findIndex((c) => c.servedPaths.includes(served));
  return index === -1 ? undefined : index;
}

/**
 * The records are committed: their blobs move to the claimed names, then the
 * folders are fsynced, and only then is the upload answered. If that fails,
 * the records are taken back (when the storage confirms it) so none points
 * at missing bytes.
 */
async function publish(ctx: CommitContext, candidates: readonly Candidate[]): Promise<void> {
  const moves = candidates.flatMap((c) => c.moves);
  try {
    for (const { from, to } of moves) await ctx.blobs.publish(from, to);
    await syncDirectories(ctx.fs, moves.map((m) => dirname(m.to)));
  } catch (err) {
    const files = candidates.map((c) => ({ id: c.record.id, paths: c.moves.flatMap((m) => [m.from, m.to]) }));
    await removeUnstored(ctx, files, err);
    throw ioError(err, 'Publishing an upload');
  }
}

/** After a failed commit: removes the blobs of the records the storage confirms are not stored; keeps the rest. */
async function removeUnstored(ctx: CommitContext, files: ReadonlyArray<{ id: string; paths: readonly string[] }>, err: unknown): Promise<void> {
  const ids = files.map((f) => f.id);
  const absent = await confirmNotStored(ctx.storage, ctx.projectId, ids);
  if (absent === undefined) {
    ctx.logger.warn(
      { requestId: ctx.requestId, projectId: ctx.projectId, ids, err },
      'upload commit failed and the storage could not confirm the records absent: binaries kept (the doctor command reports orphans)',
    );
    throw new StorageError('STORAGE_UNAVAILABLE', 'the upload failed and the storage could not confirm whether its records were stored', { binariesKept: true }, { cause: err });
  }
  reportRemoval(ctx.logger, ctx.requestId, await removeFiles(ctx.blobs, files.filter((f) => absent.has(f.id)).flatMap((f) => f.paths)));
}
