/**
 * The one implementation of StorageApi. It runs inside the storage worker
 * thread, validates every call (ids, records, patches, content size and
 * nesting), extracts usage from content, and hands what it validated to a
 * LibraryBackend (library-backend.ts): JSON files unless the options choose
 * another (backend-choice.ts). Nothing here knows where libraries live.
 */
import { threadId } from 'node:worker_threads';
import { StorageError } from '../shared/errors.js';
import type {
  DeleteMediaResult,
  MediaDocument,
  MediaRecord,
  MetadataPatch,
  NewMediaRecord,
  ProjectInfo,
  RefreshUsageResult,
  SaveContentResult,
  UsageInfo,
  UsageSource,
} from '../shared/media-types.js';
import { usedInOf } from '../shared/media-types.js';
import type {
  DrainResult,
  FaultControl,
  FaultSpec,
  StorageApi,
  StorageStats,
  WorkerPing,
} from '../shared/storage-api.js';
import type { SessionOptions } from '../shared/session-protocol.js';
import { chooseBackend, type ChosenBackend } from './backend-choice.js';
import { assertId, contentFileOf, isPageSource, serializeContent } from './content-files.js';
import type { LibraryBackend, MediaLibrary } from './library-backend.js';
import { parseNewMediaRecords } from './media-document-schema.js';
import { oneDeleted } from './media-operations.js';
import { extractMediaPaths } from './usage-extraction.js';

/** Options as the client hands them to a worker session. */
export type ServiceOptions = SessionOptions;

const MAX_CONTENT_BYTES = 20 * 1024 * 1024;

export class StorageService implements StorageApi, FaultControl {
  private readonly backend: LibraryBackend;

  constructor(
    options: ServiceOptions,
    private readonly chosen: ChosenBackend = chooseBackend(options),
  ) {
    this.backend = chosen.backend;
  }

  // --- projects -------------------------------------------------------------

  async createProject(input: { name: string; id?: string }): Promise<ProjectInfo> {
    const name = typeof input?.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) {
      throw new StorageError('INVALID_INPUT', 'Expected `name` to be a non-empty string of at most 200 characters');
    }
    if (input.id !== undefined) assertId('projectId', input.id);
    return this.backend.createProject(input.id === undefined ? { name } : { id: input.id, name });
  }

  async listProjects(): Promise<ProjectInfo[]> {
    return this.backend.listProjects();
  }

  async getProject(projectId: string): Promise<ProjectInfo> {
    assertId('projectId', projectId);
    return this.backend.getProject(projectId);
  }

  async deleteProject(projectId: string): Promise<void> {
    assertId('projectId', projectId);
    return this.backend.deleteProject(projectId);
  }

  // --- media ------------------------------------------------------------------

  async listMedia(projectId: string): Promise<MediaDocument> {
    return (await (await this.library(projectId)).read()).doc;
  }

  async listMediaJson(projectId: string): Promise<Uint8Array> {
    return (await (await this.library(projectId)).read()).json;
  }

  async getMedia(projectId: string, fileId: string): Promise<MediaRecord> {
    return (await this.library(projectId)).getMedia(fileId);
  }

  async addMedia(projectId: string, records: NewMediaRecord[]): Promise<MediaRecord[]> {
    return this.write(projectId, (library) => library.addMedia(parseNewMediaRecords(records) as NewMediaRecord[]));
  }

  async updateMetadata(projectId: string, fileId: string, patch: MetadataPatch): Promise<MediaRecord> {
    return this.write(projectId, (library) => {
      requireString('fileId', fileId);
      if (typeof patch !== 'object' || patch === null) throw new StorageError('INVALID_INPUT', 'Expected `patch` to be an object');
      for (const [k, v] of Object.entries(patch)) {
        if (v !== undefined && typeof v !== 'string') {
          throw new StorageError('INVALID_INPUT', `Expected metadata \`${k}\` to be a string, got ${typeof v}`, { field: k });
        }
      }
      return library.updateMetadata(fileId, patch);
    });
  }

  async deleteMedia(projectId: string, fileIds: string[]): Promise<DeleteMediaResult> {
    return this.write(projectId, (library) => {
      if (!Array.isArray(fileIds) || fileIds.some((id) => typeof id !== 'string')) {
        throw new StorageError('INVALID_INPUT', 'Expected `fileIds` to be an array of strings');
      }
      return library.deleteMedia(fileIds);
    });
  }

  async deleteMediaFile(projectId: string, fileId: string): Promise<MediaRecord> {
    return this.write(projectId, async (library) => {
      assertId('fileId', fileId);
      return oneDeleted(fileId, await library.deleteMedia([fileId]));
    });
  }

  // --- content and usage ------------------------------------------------------

  async saveContent(projectId: string, source: UsageSource, content: unknown): Promise<SaveContentResult> {
    return this.write(projectId, (library) => {
      contentFileOf(source);
      const text = serializeContent(content, MAX_CONTENT_BYTES);
      return library.saveContent(source, text, extractMediaPaths(content));
    });
  }

  async readContent(projectId: string, source: UsageSource): Promise<unknown> {
    contentFileOf(source);
    const content = await (await this.library(projectId)).readContent(source);
    if (content === undefined) throw new StorageError('PAGE_NOT_FOUND', `no saved content for ${source}`, { projectId, source });
    return content;
  }

  async listPages(projectId: string): Promise<string[]> {
    return (await (await this.library(projectId)).contentSources()).filter(isPageSource).sort();
  }

  async deleteContent(projectId: string, source: UsageSource): Promise<void> {
    return this.write(projectId, (library) => {
      contentFileOf(source);
      return library.deleteContent(source);
    });
  }

  async setUsage(projectId: string, source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.write(projectId, (library) => {
      contentFileOf(source);
      if (!Array.isArray(mediaPaths) || mediaPaths.some((p) => typeof p !== 'string')) {
        throw new StorageError('INVALID_INPUT', 'Expected `mediaPaths` to be an array of strings');
      }
      // Accept the same spellings as content does (relative form, full URLs).
      return library.setUsage(source, extractMediaPaths(mediaPaths));
    });
  }

  async refreshUsage(projectId: string): Promise<RefreshUsageResult> {
    return this.write(projectId, (library) => library.refreshUsage());
  }

  async usage(projectId: string, fileId: string): Promise<UsageInfo> {
    const rec = await this.getMedia(projectId, fileId);
    // The answer promises an array: a record without the key is used nowhere.
    const usedIn = [...usedInOf(rec)];
    return { fileId: rec.id, filename: rec.filename, usedIn, isInUse: usedIn.length > 0 };
  }

  private library(projectId: string): Promise<MediaLibrary> {
    assertId('projectId', projectId);
    return this.backend.library(projectId);
  }

  /**
   * One write call. `call` validates (synchronously, throwing when it
   * refuses) and then calls one write method of the library: it is the
   * validated operation builder the backend runs when it admits the call
   * (the file backend: in call order, after the first-write reconcile it
   * queues — see FileBackend.admitWrite). Nothing may await before the
   * backend is reached, or calls would overtake each other.
   */
  private write<R>(projectId: string, call: (library: MediaLibrary) => Promise<R>): Promise<R> {
    assertId('projectId', projectId);
    if (this.backend.admitWrite) return this.backend.admitWrite(projectId, call);
    return this.backend.library(projectId).then(call);
  }

  // --- service ------------------------------------------------------------------

  async stats(): Promise<StorageStats> {
    return this.chosen.counters.snapshot(this.chosen.openProjects());
  }

  async ping(): Promise<WorkerPing> {
    // A database backend is asked too: a worker that answers over a dead database is not healthy.
    await this.backend.probe?.();
    return { pid: process.pid, threadId, openProjects: this.chosen.openProjects(), queueDepth: this.chosen.counters.queueDepth };
  }

  async drain(): Promise<DrainResult> {
    return this.backend.drain();
  }

  async injectFaults(faults: FaultSpec[]): Promise<void> {
    if (!this.chosen.faults) throw new StorageError('INVALID_INPUT', 'fault injection is disabled (enableFaultInjection)');
    this.chosen.faults.inject(faults);
  }

  async clearFaults(): Promise<void> {
    if (!this.chosen.faults) throw new StorageError('INVALID_INPUT', 'fault injection is disabled (enableFaultInjection)');
    this.chosen.faults.clear();
  }
}

function requireString(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new StorageError('INVALID_INPUT', `Expected \`${field}\` to be a non-empty string`, { field });
  }
}
