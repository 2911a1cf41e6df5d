/**
 * One project's media library in JSON files: the MediaLibrary of the file
 * backend, over the project's ProjectStore (its lowdb instance, lock and
 * group-commit queue) and the operations of media-operations.ts.
 *
 * Beyond the seam's contract it keeps one rule of its own (invariant 8):
 * opening and reading never write media.json (the editor may be working on
 * the same files and its library is opened as it is), so the usage
 * reconcile that trims marks a killed process left behind goes out with
 * this process's first write, queued before that write's own operation.
 */
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import type {
  DeleteMediaResult,
  MediaDocument,
  MediaRecord,
  MetadataPatch,
  NewMediaRecord,
  RefreshUsageResult,
  SaveContentResult,
  UsageSource,
} from '../shared/media-types.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import type { MediaLibrary } from './library-backend.js';
import * as ops from './media-operations.js';
import type { Operation } from './operation.js';
import type { ProjectStore } from './project-store.js';

export class FileLibrary implements MediaLibrary {
  /** the first write's usage reconcile, once queued (null: not yet, or it failed and the next write tries again) */
  private reconciling: Promise<void> | null = null;

  constructor(
    readonly store: ProjectStore,
    private readonly fs: FsSeam,
    private readonly logger: pino.Logger,
  ) {}

  // --- reads ---------------------------------------------------------------

  async read(): Promise<{ doc: MediaDocument; json: Uint8Array }> {
    const { state, json } = await this.store.read();
    return { doc: state.doc, json };
  }

  async getMedia(fileId: string): Promise<MediaRecord> {
    const { state } = await this.store.read();
    const rec = state.byId.get(fileId);
    if (!rec) throw new StorageError('MEDIA_NOT_FOUND', `no media file with id ${fileId}`, { projectId: this.store.projectId, fileId });
    return rec;
  }

  readContent(source: UsageSource): Promise<unknown> {
    return this.store.readContentOrNull(source);
  }

  contentSources(): Promise<UsageSource[]> {
    return this.store.contentSources();
  }

  // --- writes: each queues its operation before its first await (call order, invariant 1) ---

  addMedia(records: NewMediaRecord[]): Promise<MediaRecord[]> {
    return this.enqueueWrite(ops.addMedia(records));
  }

  updateMetadata(fileId: string, patch: MetadataPatch): Promise<MediaRecord> {
    return this.enqueueWrite(ops.updateMetadata(fileId, patch));
  }

  deleteMedia(fileIds: string[]): Promise<DeleteMediaResult> {
    return this.enqueueWrite(ops.deleteMedia(fileIds));
  }

  saveContent(source: UsageSource, text: string, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.enqueueWrite(ops.saveContent(source, text, mediaPaths));
  }

  setUsage(source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.enqueueWrite(ops.setUsage(source, mediaPaths));
  }

  /** PAGE_NOT_FOUND (once the first write's reconcile is done) when the source has no content file. */
  async deleteContent(source: UsageSource): Promise<void> {
    const reconciling = this.reconcileBeforeFirstWrite();
    try {
      await this.fs.stat(this.store.contentPath(source));
    } catch (err) {
      await reconciling;
      if (errnoCode(err) === 'ENOENT') {
        throw new StorageError('PAGE_NOT_FOUND', `no saved content for ${source}`, { projectId: this.store.projectId, source });
      }
      throw StorageError.from(err, 'STORAGE_IO');
    }
    await this.store.enqueue(ops.deleteContent(source));
  }

  async refreshUsage(): Promise<RefreshUsageResult> {
    this.reconcileBeforeFirstWrite();
    // Read and scan the content files before queueing: not under the lock.
    return this.store.enqueue(ops.refreshUsage('all', await this.store.scanContent()));
  }

  private enqueueWrite<R>(op: Operation<R>): Promise<R> {
    this.reconcileBeforeFirstWrite();
    return this.store.enqueue(op);
  }

  /**
   * Queues the usage reconcile if this is this process's first write to the
   * project (in the same batch as the write, applied first, so a delete sees
   * the trimmed marks); the promise settles (never rejects) once it is done.
   * Until then reads may show an over-mark a killed process left — harmless by
   * design — or, in a library the editor wrote, no mark where a page uses a
   * file (the editor's own reading: `usedIn` absent until usage is computed).
   * Not awaited by the write itself: an await would let later calls overtake
   * its operation.
   */
  reconcileBeforeFirstWrite(): Promise<void> {
    if (this.reconciling) return this.reconciling;
    const reconciling = this.store.enqueue(ops.refreshUsage('withFiles')).then(
      (usage) => this.logger.info({ project: this.store.projectId, usageSources: usage.sources }, 'usage reconciled with the content files'),
      (err: unknown) => {
        if (this.reconciling === reconciling) this.reconciling = null; // try again with the next write
        if (!(err instanceof StorageError && err.code === 'CORRUPT_DOCUMENT')) {
          this.logger.warn({ project: this.store.projectId, err }, 'reconciling usage failed; the next write tries again');
        }
      },
    );
    this.reconciling = reconciling;
    return reconciling;
  }
}
