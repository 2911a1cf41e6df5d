/**
 * The backend seam: where media libraries live. StorageService validates
 * every call (ids, records, patches, content size and nesting), extracts
 * usage from content, and then talks only to these two interfaces. The JSON
 * files (media.json under a pid-stamped lock, one lowdb instance per project)
 * are the embedded default; PostgreSQL is the second implementation. Neither
 * `server/` nor the client knows which one runs.
 *
 * Contract every backend keeps (the storage contract suite runs against each):
 * - every write resolves only once it is durable, and its effect is visible to
 *   every process sharing the backend from then on;
 * - usage is exact at acknowledgment: after `saveContent` resolves, the
 *   source marks exactly the files its content names, as any process reads it;
 * - a crash may leave usage over-marked, never under-marked;
 * - the in-use check of `deleteMedia` runs in the same commit as the removal;
 * - a write that rejects changed nothing the caller can observe;
 * - rejections are `StorageError`s with stable codes only.
 */
import type {
  DeleteMediaResult,
  MediaDocument,
  MediaRecord,
  MetadataPatch,
  NewMediaRecord,
  ProjectInfo,
  RefreshUsageResult,
  SaveContentResult,
  UsageSource,
} from '../shared/media-types.js';

/** The projects of one backend, and the door to each project's library. */
export interface LibraryBackend {
  /** which backend this is, for logs, `/health` and the bench */
  readonly kind: 'files' | 'postgres';
  /**
   * Optional: proves the backend can answer now (a database round trip), so
   * `/health` says "storage down" while the database is. Throws
   * STORAGE_UNAVAILABLE when it cannot. The file backend has nothing to ask.
   */
  probe?(): Promise<void>;
  /**
   * Creates a project under `id` (already validated), or under the first free
   * id derived from `name` when `id` is absent. PROJECT_EXISTS if `id` is taken.
   */
  createProject(input: { id?: string; name: string }): Promise<ProjectInfo>;
  listProjects(): Promise<ProjectInfo[]>;
  /** By the editor's UUID or by folder name; PROJECT_NOT_FOUND if none. */
  getProject(projectId: string): Promise<ProjectInfo>;
  /** Closes the project's library, then removes the project and all it holds. */
  deleteProject(projectId: string): Promise<void>;
  /** The project's library, opened (recovered, validated) on first use and kept open. PROJECT_NOT_FOUND if none. */
  library(projectId: string): Promise<MediaLibrary>;
  /** Commits everything accepted, releases every lock or connection. */
  drain(): Promise<{ projects: number; operations: number }>;
  /**
   * Optional: runs one write call on the project's library, so the backend
   * decides when it runs. `call` is the service's validated operation
   * builder: it validates its input and calls one write method of the
   * library before its first await, and throws (or rejects) when its input is
   * refused. The file backend admits write calls in the order they arrive and
   * queues a process's first-write usage reconcile before `call`, which a
   * refused call still waits for. Without it the service runs
   * `call(await library(projectId))`.
   */
  admitWrite?<R>(projectId: string, call: (library: MediaLibrary) => Promise<R>): Promise<R>;
}

/**
 * One project's media library. Inputs arrive validated; results and errors
 * are the StorageApi's (shared/storage-api.ts), which documents each method.
 */
export interface MediaLibrary {
  /** The document, and the same as UTF-8 JSON bytes (the file backend's are the bytes on disk). */
  read(): Promise<{ doc: MediaDocument; json: Uint8Array }>;
  getMedia(fileId: string): Promise<MediaRecord>;
  addMedia(records: NewMediaRecord[]): Promise<MediaRecord[]>;
  updateMetadata(fileId: string, patch: MetadataPatch): Promise<MediaRecord>;
  deleteMedia(fileIds: string[]): Promise<DeleteMediaResult>;
  /** `text` is the serialised content; `mediaPaths` what usage extraction found in it. */
  saveContent(source: UsageSource, text: string, mediaPaths: string[]): Promise<SaveContentResult>;
  /** The parsed content, or `undefined` when the source has none. */
  readContent(source: UsageSource): Promise<unknown>;
  /** Every source with saved content (pages, `global:*`). */
  contentSources(): Promise<UsageSource[]>;
  /** PAGE_NOT_FOUND when the source has no saved content. */
  deleteContent(source: UsageSource): Promise<void>;
  setUsage(source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult>;
  refreshUsage(): Promise<RefreshUsageResult>;
}
