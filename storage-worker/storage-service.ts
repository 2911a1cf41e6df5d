/**
 * The one implementation of StorageApi. It runs inside the storage worker
 * thread and is the only code that opens media.json; it keeps one
 * ProjectStore (one lowdb instance) per open project.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import pino from 'pino';
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
import { assertId, contentFileOf, isPageSource, serializeContent } from './content-files.js';
import { CoarseTimestampFs } from './coarse-timestamp-fs.js';
import { FaultyFs } from './fault-injection.js';
import { errnoCode, realFs, type FsSeam } from './fs-seam.js';
import { parseNewMediaRecords } from './media-document-schema.js';
import * as ops from './media-operations.js';
import { isUsableEntry, ProjectRegistry, type ResolvedProject } from './project-registry.js';
import { ProjectStore, type Operation } from './project-store.js';
import type { SessionOptions } from '../shared/session-protocol.js';
import { makeTempName } from './temp-file-name.js';
import { extractMediaPaths } from './usage-extraction.js';
import { WorkerCounters } from './worker-counters.js';

/** Options as the client hands them to a worker session. */
export type ServiceOptions = SessionOptions;

const MAX_CONTENT_BYTES = 20 * 1024 * 1024;
const PROJECT_FILE = 'project.json';

export class StorageService implements StorageApi, FaultControl {
  private readonly fs: FsSeam;
  private readonly faults: FaultyFs | null;
  private readonly projectsDir: string;
  /** open stores by canonical project id */
  private readonly stores = new Map<string, Promise<ProjectStore>>();
  /** a folder name of a registered project → its canonical id (the editor's UUID) */
  private readonly aliases = new Map<string, string>();
  /** per project id, the tail of write calls waiting for their store, in call order (see writable) */
  private readonly writeAdmission = new Map<string, Promise<void>>();
  /** stores whose usage was reconciled with their content files (see writable) */
  private readonly reconciled = new WeakSet<ProjectStore>();
  private readonly registry: ProjectRegistry;
  private readonly counters = new WorkerCounters();
  private readonly logger: pino.Logger;
  private readonly deadThreads: Set<number>;

  /** `logger`: where the worker's lines go (the host's, through the session's log port); default fd 1 */
  constructor(private readonly options: ServiceOptions, logger?: pino.Logger) {
    const base = options.simulateCoarseTimestamps ? new CoarseTimestampFs(realFs) : realFs;
    this.faults = options.enableFaultInjection ? new FaultyFs(base) : null;
    this.fs = this.faults ?? base;
    this.projectsDir = join(options.dataDir, 'projects');
    this.deadThreads = new Set(options.deadThreadIds ?? []);
    this.registry = new ProjectRegistry(this.projectsDir, this.fs, {
      timeoutMs: options.lockTimeoutMs ?? 5000,
      staleMs: options.staleLockMs ?? 10_000,
      isThreadAlive: (id) => !this.deadThreads.has(id),
    });
    // Synchronous writes to fd 1: log lines of a worker that is about to die still land.
    this.logger = logger ?? pino(
      { level: options.logLevel ?? 'info', base: { pid: process.pid, thread: threadId, component: 'storage-worker' } },
      pino.destination({ fd: 1, sync: true }),
    );
  }

  // --- projects -------------------------------------------------------------

  async createProject(input: { name: string; id?: string }): Promise<ProjectInfo> {
    const name = typeof input?.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 200) {
      throw new StorageError('INVALID_INPUT', 'Expected `name` to be a non-empty string of at most 200 characters');
    }
    if (input.id !== undefined) assertId('projectId', input.id);
    await this.fs.mkdir(this.projectsDir);
    // Under the registry's lock: two processes creating projects at once can
    // neither claim the same folder nor lose each other's entry.
    const info = await this.registry.update(async (projects) => {
      const taken = new Set<string>();
      for (const e of projects.filter(isUsableEntry)) taken.add(e.id).add(e.folderName);
      const made = await this.claimFree(input.id, name, taken);
      // The editor lists projects from this file: register what we made (id = folder name).
      projects.push({ id: made.id, folderName: made.folder, name: made.name, created: made.createdAt, updated: made.createdAt });
      return { write: true, result: made };
    });
    const store = await this.store(info.id);
    await store.enqueue(ops.initialise());
    return info;
  }

  /** The explicit id, or the first free id derived from the name; never a folder or id the editor already uses. */
  private async claimFree(id: string | undefined, name: string, taken: ReadonlySet<string>): Promise<ProjectInfo> {
    if (id !== undefined) {
      const made = taken.has(id) ? null : await this.claimProject(id, name);
      if (!made) throw new StorageError('PROJECT_EXISTS', `a project with id ${id} already exists`, { projectId: id });
      return made;
    }
    const base = slugify(name);
    for (let n = 1; n < 1000; n++) {
      const candidate = n === 1 ? base : `${base.slice(0, 60)}-${n}`;
      const made = taken.has(candidate) ? null : await this.claimProject(candidate, name);
      if (made) return made;
    }
    throw new StorageError('PROJECT_EXISTS', `could not find a free project id for ${JSON.stringify(name)}`);
  }

  /**
   * project.json is written to a temp file and hard-linked into place: link()
   * fails with EEXIST if the project exists, so two creators of one id can
   * never both succeed, and the file never appears half-written. A folder
   * that already exists without project.json is the editor's (or someone's):
   * it is never taken over.
   */
  private async claimProject(id: string, name: string): Promise<ProjectInfo | null> {
    const dir = join(this.projectsDir, id);
    const info: ProjectInfo = { id, folder: id, name, createdAt: new Date().toISOString() };
    if (await this.exists(dir)) return null;
    await this.fs.mkdir(dir);
    const target = join(dir, PROJECT_FILE);
    const temp = makeTempName(target);
    const file = await this.fs.open(temp, 'wx');
    try {
      await file.writeAll(JSON.stringify({ id, name, createdAt: info.createdAt }, null, 2));
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await this.fs.link(temp, target);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw StorageError.from(err, 'STORAGE_IO');
      return null;
    } finally {
      await this.fs.unlink(temp).catch(() => undefined); // the link holds the content now
    }
    for (const sub of ['uploads/images', 'uploads/videos', 'uploads/audios', 'uploads/files', 'pages/global']) {
      await this.fs.mkdir(join(dir, sub));
    }
    return info;
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.fs.stat(path);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw StorageError.from(err, 'STORAGE_IO');
    }
  }

  /** Editor projects under their UUIDs, then folders without an entry under their folder names. */
  async listProjects(): Promise<ProjectInfo[]> {
    let dirents;
    try {
      dirents = await this.fs.readdir(this.projectsDir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return []; // no project created yet
      throw StorageError.from(err, 'STORAGE_IO');
    }
    const folders = new Set(dirents.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name));
    const out: ProjectInfo[] = [];
    const listed = new Set<string>();
    for (const entry of await this.registry.entries()) {
      if (!folders.has(entry.folderName) || listed.has(entry.folderName)) continue;
      listed.add(entry.folderName);
      out.push(await this.projectInfo({ id: entry.id, folder: entry.folderName, entry }));
    }
    for (const folder of folders) {
      if (listed.has(folder)) continue;
      try {
        out.push(await this.projectInfo({ id: folder, folder, entry: null }));
      } catch (err) {
        if (!(err instanceof StorageError && err.code === 'PROJECT_NOT_FOUND')) throw err;
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getProject(projectId: string): Promise<ProjectInfo> {
    return this.projectInfo(await this.resolve(projectId));
  }

  /** A project id (an editor UUID, or a folder name) → its canonical id and folder; PROJECT_NOT_FOUND if none. */
  private async resolve(projectId: string): Promise<ResolvedProject> {
    assertId('projectId', projectId);
    const found = await this.registry.resolve(projectId);
    if (!found) throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
    return found;
  }

  private async projectInfo({ id, folder, entry }: ResolvedProject): Promise<ProjectInfo> {
    const dir = join(this.projectsDir, folder);
    let stats;
    try {
      stats = await this.fs.stat(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${id}`, { projectId: id });
      throw StorageError.from(err, 'STORAGE_IO');
    }
    if (!stats.isDirectory()) throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${id}`, { projectId: id });
    const born = new Date(Number(stats.birthtimeMs)).toISOString();
    if (entry) {
      return { id, folder, name: typeof entry.name === 'string' ? entry.name : folder, createdAt: typeof entry.created === 'string' ? entry.created : born };
    }
    try {
      const raw = JSON.parse((await this.fs.readFile(join(dir, PROJECT_FILE))).toString('utf8')) as Partial<ProjectInfo>;
      return {
        id,
        folder,
        name: typeof raw.name === 'string' ? raw.name : id,
        createdAt: typeof raw.createdAt === 'string' ? raw.createdAt : born,
      };
    } catch {
      // A project made by the editor before mediastore has no project.json: its folder is the project.
      return { id, folder, name: id, createdAt: born };
    }
  }

  async deleteProject(projectId: string): Promise<void> {
    const project = await this.resolve(projectId);
    const store = this.stores.get(project.id);
    this.stores.delete(project.id);
    for (const [alias, id] of this.aliases) if (id === project.id) this.aliases.delete(alias);
    if (store) await (await store.catch(() => null))?.close();
    // Rename first so the project disappears at once, even if removing its files takes a while.
    const trash = join(this.projectsDir, `.deleted-${project.folder}-${randomBytes(4).toString('hex')}`);
    try {
      await this.fs.rename(join(this.projectsDir, project.folder), trash);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
      throw StorageError.from(err, 'STORAGE_IO');
    }
    if (project.entry) {
      // The editor must not list a project whose folder is gone.
      await this.registry.update(async (projects) => {
        const at = projects.findIndex((e) => isUsableEntry(e) && e.id === project.id);
        if (at !== -1) projects.splice(at, 1);
        return { write: at !== -1, result: undefined };
      });
    }
    await this.fs.rm(trash);
  }

  // --- media ------------------------------------------------------------------

  async listMedia(projectId: string): Promise<MediaDocument> {
    return (await (await this.store(projectId)).read()).state.doc;
  }

  async listMediaJson(projectId: string): Promise<Uint8Array> {
    return (await (await this.store(projectId)).read()).json;
  }

  async getMedia(projectId: string, fileId: string): Promise<MediaRecord> {
    const { state } = await (await this.store(projectId)).read();
    const rec = state.byId.get(fileId);
    if (!rec) throw new StorageError('MEDIA_NOT_FOUND', `no media file with id ${fileId}`, { projectId, fileId });
    return rec;
  }

  async addMedia(projectId: string, records: NewMediaRecord[]): Promise<MediaRecord[]> {
    return this.write(projectId, () => ops.addMedia(parseNewMediaRecords(records) as NewMediaRecord[]));
  }

  async updateMetadata(projectId: string, fileId: string, patch: MetadataPatch): Promise<MediaRecord> {
    return this.write(projectId, () => {
      requireString('fileId', fileId);
      if (typeof patch !== 'object' || patch === null) throw new StorageError('INVALID_INPUT', 'Expected `patch` to be an object');
      for (const [k, v] of Object.entries(patch)) {
        if (v !== undefined && typeof v !== 'string') {
          throw new StorageError('INVALID_INPUT', `Expected metadata \`${k}\` to be a string, got ${typeof v}`, { field: k });
        }
      }
      return ops.updateMetadata(fileId, patch);
    });
  }

  async deleteMedia(projectId: string, fileIds: string[]): Promise<DeleteMediaResult> {
    return this.write(projectId, () => {
      if (!Array.isArray(fileIds) || fileIds.some((id) => typeof id !== 'string')) {
        throw new StorageError('INVALID_INPUT', 'Expected `fileIds` to be an array of strings');
      }
      return ops.deleteMedia(fileIds);
    });
  }

  // --- content and usage ------------------------------------------------------

  async saveContent(projectId: string, source: UsageSource, content: unknown): Promise<SaveContentResult> {
    return this.write(projectId, () => {
      contentFileOf(source);
      const text = serializeContent(content, MAX_CONTENT_BYTES);
      return ops.saveContent(source, text, extractMediaPaths(content));
    });
  }

  async readContent(projectId: string, source: UsageSource): Promise<unknown> {
    contentFileOf(source);
    const store = await this.store(projectId);
    const content = await store.readContentOrNull(source);
    if (content === undefined) throw new StorageError('PAGE_NOT_FOUND', `no saved content for ${source}`, { projectId, source });
    return content;
  }

  async listPages(projectId: string): Promise<string[]> {
    const store = await this.store(projectId);
    return (await store.contentSources()).filter(isPageSource).sort();
  }

  async deleteContent(projectId: string, source: UsageSource): Promise<void> {
    const { store, reconciling } = await this.writable(projectId);
    try {
      contentFileOf(source);
      try {
        await this.fs.stat(store.contentPath(source));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw new StorageError('PAGE_NOT_FOUND', `no saved content for ${source}`, { projectId, source });
        throw StorageError.from(err, 'STORAGE_IO');
      }
    } catch (err) {
      await reconciling;
      throw err;
    }
    await store.enqueue(ops.deleteContent(source));
  }

  async setUsage(projectId: string, source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.write(projectId, () => {
      contentFileOf(source);
      if (!Array.isArray(mediaPaths) || mediaPaths.some((p) => typeof p !== 'string')) {
        throw new StorageError('INVALID_INPUT', 'Expected `mediaPaths` to be an array of strings');
      }
      // Accept the same spellings as content does (relative form, full URLs).
      return ops.setUsage(source, extractMediaPaths(mediaPaths));
    });
  }

  async refreshUsage(projectId: string): Promise<RefreshUsageResult> {
    const { store } = await this.writable(projectId);
    // Read and scan the content files before queueing: not under the lock.
    return store.enqueue(ops.refreshUsage('all', await store.scanContent()));
  }

  /**
   * Queues a write operation in call order: `build` validates and makes the
   * operation synchronously, right after the store is known, so calls that
   * arrive in one order are applied in that order (invariant 1). A call its
   * own validation refuses answers only once the usage reconcile its
   * process's first write call queued is done (see writable).
   */
  private async write<R>(projectId: string, build: () => Operation<R>): Promise<R> {
    const { store, reconciling } = await this.writable(projectId);
    let op: Operation<R>;
    try {
      op = build();
    } catch (err) {
      await reconciling;
      throw err;
    }
    return store.enqueue(op);
  }

  async usage(projectId: string, fileId: string): Promise<UsageInfo> {
    const rec = await this.getMedia(projectId, fileId);
    // The answer promises an array: a record without the key is used nowhere.
    const usedIn = [...usedInOf(rec)];
    return { fileId: rec.id, filename: rec.filename, usedIn, isInUse: usedIn.length > 0 };
  }

  // --- service ------------------------------------------------------------------

  async stats(): Promise<StorageStats> {
    return this.counters.snapshot(this.stores.size);
  }

  async ping(): Promise<WorkerPing> {
    return { pid: process.pid, threadId, openProjects: this.stores.size, queueDepth: this.counters.queueDepth };
  }

  async drain(): Promise<DrainResult> {
    const stores = [...this.stores.values()];
    this.stores.clear();
    let operations = 0;
    let projects = 0;
    for (const pending of stores) {
      const store = await pending.catch(() => null);
      if (!store) continue;
      projects++;
      operations += await store.close();
    }
    return { projects, operations };
  }

  async injectFaults(faults: FaultSpec[]): Promise<void> {
    if (!this.faults) throw new StorageError('INVALID_INPUT', 'fault injection is disabled (enableFaultInjection)');
    this.faults.inject(faults);
  }

  async clearFaults(): Promise<void> {
    if (!this.faults) throw new StorageError('INVALID_INPUT', 'fault injection is disabled (enableFaultInjection)');
    this.faults.clear();
  }

  // --- projects' stores -----------------------------------------------------------

  /** The open store of a project, opening (sweeping, validating, recovering) it on first use. */
  private async store(projectId: string): Promise<ProjectStore> {
    assertId('projectId', projectId);
    const known = this.stores.get(this.aliases.get(projectId) ?? projectId);
    if (known) return known;
    const project = await this.resolve(projectId);
    // Keyed by the canonical id: a UUID and its folder name share one store.
    if (project.id !== projectId) this.aliases.set(projectId, project.id);
    let pending = this.stores.get(project.id);
    if (!pending) {
      pending = this.openStore(project);
      this.stores.set(project.id, pending);
      pending.catch(() => {
        if (this.stores.get(project.id) === pending) this.stores.delete(project.id);
      });
    }
    return pending;
  }

  /**
   * The store of a project for an operation that writes. Opening a project
   * never writes media.json (the editor may be running on the same files, and
   * its library must be opened as it is), so the usage reconciliation that
   * trims marks a killed process left behind (see the operation) goes out with
   * the first write instead, in the same batch: it is enqueued first, so it
   * applies before the operation (a delete then sees the trimmed marks).
   * Until then reads may show such an over-mark — harmless by design — or,
   * in a library the editor wrote, no mark where a page uses a file (the
   * editor's own reading: `usedIn` absent until usage is first computed).
   * Every write call reconciles, even one its own validation then refuses,
   * so the rule is simply "the first write call of a process".
   */
  private async writable(projectId: string): Promise<{ store: ProjectStore; reconciling: Promise<void> }> {
    // Write calls learn their store strictly in call order: opening a project
    // resolves its id asynchronously (projects.json), and concurrent first
    // calls must not overtake each other on the way to the queue.
    // (Per project id: a slow open of one project holds up no other.)
    const store = (this.writeAdmission.get(projectId) ?? Promise.resolve()).then(() => this.store(projectId));
    const tail = store.then(
      () => undefined,
      () => undefined,
    );
    this.writeAdmission.set(projectId, tail);
    void tail.then(() => {
      if (this.writeAdmission.get(projectId) === tail) this.writeAdmission.delete(projectId);
    });
    return this.admitted(projectId, await store);
  }

  private admitted(projectId: string, store: ProjectStore): { store: ProjectStore; reconciling: Promise<void> } {
    if (this.reconciled.has(store)) return { store, reconciling: Promise.resolve() };
    this.reconciled.add(store);
    // Queued now, before the caller's operation (callers that arrive
    // meanwhile queue behind it too). Not awaited here: an await would let
    // later calls overtake this caller's operation.
    const reconciling = store.enqueue(ops.refreshUsage('withFiles')).then(
      (usage) => this.logger.info({ project: projectId, usageSources: usage.sources }, 'usage reconciled with the content files'),
      (err: unknown) => {
        this.reconciled.delete(store); // try again with the next write
        if (!(err instanceof StorageError && err.code === 'CORRUPT_DOCUMENT')) {
          this.logger.warn({ project: projectId, err }, 'reconciling usage failed; the next write tries again');
        }
      },
    );
    return { store, reconciling };
  }

  private async openStore(project: ResolvedProject): Promise<ProjectStore> {
    const store = new ProjectStore(project.id, join(this.projectsDir, project.folder), {
      fs: this.fs,
      logger: this.logger,
      counters: this.counters,
      lockTimeoutMs: this.options.lockTimeoutMs ?? 5000,
      staleLockMs: this.options.staleLockMs ?? 10_000,
      isThreadAlive: (id) => !this.deadThreads.has(id),
      onLockTakeover: (taken) => {
        taken.enqueue(ops.refreshUsage('withFiles')).catch((err: unknown) =>
          this.logger.warn({ project: project.id, err }, 'usage reconcile after a lock takeover failed; the next write reconciles'),
        );
      },
    });
    const opened = await store.open();
    this.logger.info({ project: project.id, folder: project.folder, ...opened }, 'project opened');
    return store;
  }
}

function requireString(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new StorageError('INVALID_INPUT', `Expected \`${field}\` to be a non-empty string`, { field });
  }
}

/** "My Site!" → "my-site"; an id made only of what ID_PATTERN allows. */
function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56);
  return slug || 'project';
}
