/**
 * The typed storage API. Every caller (HTTP handlers, other server code,
 * tests, the doctor command, the benchmark) talks to media.json only through
 * this interface; its one implementation runs inside the storage worker thread
 * and `StorageClient` (client/storage-client.ts) carries the calls there.
 *
 * Every method rejects with `StorageError` only. Every write resolves only
 * after the commit holding it is durable on disk.
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
  UsageInfo,
  UsageSource,
} from './media-types.js';

export interface StorageApi {
  // --- projects -----------------------------------------------------------
  createProject(input: { name: string; id?: string }): Promise<ProjectInfo>;
  listProjects(): Promise<ProjectInfo[]>;
  /** By the editor's UUID (projects.json), or by folder name; `folder` says where its files live. */
  getProject(projectId: string): Promise<ProjectInfo>;
  /** Closes the project's instance, then removes the whole project directory. */
  deleteProject(projectId: string): Promise<void>;

  // --- media records ------------------------------------------------------
  listMedia(projectId: string): Promise<MediaDocument>;
  /**
   * The same document as UTF-8 JSON bytes, exactly as on disk, so a handler
   * can send it without re-serialising; the bytes live in shared memory and
   * cross from the worker without a copy. Treat them as read-only.
   */
  listMediaJson(projectId: string): Promise<Uint8Array>;
  getMedia(projectId: string, fileId: string): Promise<MediaRecord>;
  /** Adds one or many records in one commit; a new record has no `usedIn` key (used nowhere). */
  addMedia(projectId: string, records: NewMediaRecord[]): Promise<MediaRecord[]>;
  updateMetadata(projectId: string, fileId: string, patch: MetadataPatch): Promise<MediaRecord>;
  /** The in-use check runs inside the same commit as the delete. */
  deleteMedia(projectId: string, fileIds: string[]): Promise<DeleteMediaResult>;
  /**
   * Deletes one file and answers its record; a file in use is kept and the
   * call fails with MEDIA_IN_USE (details: fileId, filename, usedIn), a
   * missing one with MEDIA_NOT_FOUND.
   */
  deleteMediaFile(projectId: string, fileId: string): Promise<MediaRecord>;

  // --- content and usage --------------------------------------------------
  /**
   * Writes the source's JSON file (page, global widget, theme settings)
   * atomically and sets that source's usage. A crash may leave usage
   * over-marked, never under-marked.
   */
  saveContent(projectId: string, source: UsageSource, content: unknown): Promise<SaveContentResult>;
  /** Rejects with PAGE_NOT_FOUND when the source has no saved content. */
  readContent(projectId: string, source: UsageSource): Promise<unknown>;
  /** Page ids with saved content (global widgets and theme are not pages). */
  listPages(projectId: string): Promise<string[]>;
  /** Removes the source's file, then its usage. */
  deleteContent(projectId: string, source: UsageSource): Promise<void>;
  /** Sets a source's usage from media paths without writing a content file (internal callers). */
  setUsage(projectId: string, source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult>;
  /** Rebuilds all usage from the content files on disk, in one commit. */
  refreshUsage(projectId: string): Promise<RefreshUsageResult>;
  usage(projectId: string, fileId: string): Promise<UsageInfo>;

  // --- service ------------------------------------------------------------
  stats(): Promise<StorageStats>;
  ping(): Promise<WorkerPing>;
  /** Commits everything queued, releases every lock and closes every project. */
  drain(): Promise<DrainResult>;
}

export interface WorkerPing {
  pid: number;
  threadId: number;
  openProjects: number;
  /** operations waiting or being committed, over all projects */
  queueDepth: number;
}

export interface DrainResult {
  projects: number;
  operations: number;
}

/** Cumulative histogram with fixed upper bounds (Prometheus-style, non-cumulative counts per bucket). */
export interface HistogramSnapshot {
  /** upper bounds, ascending; a final +Inf bucket is implied */
  bounds: number[];
  /** counts.length === bounds.length + 1 */
  counts: number[];
  sum: number;
  count: number;
}

export interface StorageStats {
  commits: number;
  /** operations acknowledged by a successful commit */
  operations: number;
  failedCommits: number;
  /** retried I/O errors, by error code (EPERM, ENOENT, …) */
  retries: Record<string, number>;
  lockWaits: number;
  staleLockTakeovers: number;
  /** times a commit found media.json changed by another process and reloaded it */
  externalReloads: number;
  quarantines: number;
  queueDepth: number;
  openProjects: number;
  commitDurationMs: HistogramSnapshot;
  batchSize: HistogramSnapshot;
  lockWaitMs: HistogramSnapshot;
  /** total milliseconds all commits spent in each phase (lock, fresh, apply, write, content, release) */
  commitPhaseMs: Record<string, number>;
  /** filled in by the client (main thread): worker threads started again after a death */
  workerRestarts: number;
}

/** Options of one storage service (one worker thread). */
export interface StorageOptions {
  /** the data directory; projects live in `<dataDir>/projects/<id>` */
  dataDir: string;
  /** how long a writer waits for a project's lock before LOCK_TIMEOUT (default 5000) */
  lockTimeoutMs?: number;
  /** a lock older than this is taken over even when its holder looks alive (default 10000) */
  staleLockMs?: number;
  /** how long a client call may wait for the worker before STORAGE_UNAVAILABLE (default 30000) */
  callTimeoutMs?: number;
  /** pino level inside the worker (default 'info') */
  logLevel?: string;
  /** allow `injectFaults` (tests only; default false) */
  enableFaultInjection?: boolean;
  /**
   * Tests only: see every file with whole-second timestamps and one shared
   * inode number, as on ext3/FAT/HFS+/many network file systems (default false).
   */
  simulateCoarseTimestamps?: boolean;
  /**
   * A PostgreSQL connection string (`postgres://user@host:port/db`): when
   * set, media libraries live in that database (storage-worker/postgres/)
   * instead of media.json files; see docs/postgres.md.
   */
  databaseUrl?: string;
}

/** Names of the file operations that go through the I/O seam and can be failed in tests. */
export const FS_OPERATIONS = [
  'open',
  'write',
  'fsync',
  'close',
  'rename',
  'link',
  'unlink',
  'readFile',
  'stat',
  'mkdir',
  'readdir',
  'rm',
  'utimes',
] as const;
export type FsOperation = (typeof FS_OPERATIONS)[number];

/** One injected fault: fail `op` with errno `code` (or end the worker thread). */
export interface FaultSpec {
  op: FsOperation;
  /** errno code to throw, e.g. EPERM, ENOSPC, EIO */
  code?: string;
  /** 'crash' ends the worker thread at that point instead of throwing */
  action?: 'throw' | 'crash';
  /** only when the path contains this text (e.g. 'media.json') */
  pathIncludes?: string;
  /**
   * only when the path ends with this text: the one way to pick a directory
   * (its fsync after a rename, say) apart from the files inside it
   */
  pathEndsWith?: string;
  /** how many times it fires (default: until cleared) */
  times?: number;
}

/** Test-only surface, present when `enableFaultInjection` is set. */
export interface FaultControl {
  injectFaults(faults: FaultSpec[]): Promise<void>;
  clearFaults(): Promise<void>;
}
