/**
 * The embedded backend: every project is a folder under
 * `<dataDir>/projects/`, its library `uploads/media.json` under a pid-stamped
 * lock, one ProjectStore (one lowdb instance) per open project, kept open
 * until the project is deleted or the backend drained. Projects are
 * resolved through the editor's registry (projects.json, project-registry.ts);
 * a UUID and its folder name open one and the same library.
 */
import { join } from 'node:path';
import pino from 'pino';
import type { ProjectInfo } from '../shared/media-types.js';
import { projectsDirOf } from '../shared/project-paths.js';
import { realFs, type FsSeam } from './fs-seam.js';
import { FileLibrary } from './file-library.js';
import type { LibraryBackend, MediaLibrary } from './library-backend.js';
import * as ops from './media-operations.js';
import { ProjectFolders } from './project-folders.js';
import { ProjectRegistry, type ResolvedProject } from './project-registry.js';
import { ProjectStore } from './project-store.js';
import { WorkerCounters } from './worker-counters.js';

export interface FileBackendOptions {
  /** the data directory; projects live in `<dataDir>/projects/<folder>` */
  dataDir: string;
  /** how long a writer waits for a project's lock before LOCK_TIMEOUT (default 5000) */
  lockTimeoutMs?: number;
  /** a lock older than this is taken over even when its holder looks alive (default 10000) */
  staleLockMs?: number;
  /** threads of this process known dead (earlier storage workers): their locks are dead too */
  deadThreadIds?: readonly number[];
  /** every file operation goes through it (tests wrap it: fault injection, coarse timestamps); default the real one */
  fs?: FsSeam;
  /** default: silent */
  logger?: pino.Logger;
  /** what `stats()` reads; the stores feed it */
  counters?: WorkerCounters;
}

export class FileBackend implements LibraryBackend {
  readonly kind = 'files';
  private readonly fs: FsSeam;
  private readonly logger: pino.Logger;
  private readonly counters: WorkerCounters;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly deadThreads: Set<number>;
  private readonly folders: ProjectFolders;
  /** open libraries by canonical project id */
  private readonly libraries = new Map<string, Promise<FileLibrary>>();
  /** a folder name of a registered project → its canonical id (the editor's UUID) */
  private readonly aliases = new Map<string, string>();
  /** per project id, the tail of write calls waiting for their library, in call order (see admitWrite) */
  private readonly writeAdmission = new Map<string, Promise<void>>();

  constructor(options: FileBackendOptions) {
    this.fs = options.fs ?? realFs;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.counters = options.counters ?? new WorkerCounters();
    this.lockTimeoutMs = options.lockTimeoutMs ?? 5000;
    this.staleLockMs = options.staleLockMs ?? 10_000;
    this.deadThreads = new Set(options.deadThreadIds ?? []);
    const projectsDir = projectsDirOf(options.dataDir);
    const registry = new ProjectRegistry(projectsDir, this.fs, {
      timeoutMs: this.lockTimeoutMs,
      staleMs: this.staleLockMs,
      isThreadAlive: (id) => !this.deadThreads.has(id),
    });
    this.folders = new ProjectFolders(projectsDir, this.fs, registry);
  }

  /** Projects with an open (or opening) library, for stats and ping. */
  get openProjects(): number {
    return this.libraries.size;
  }

  // --- projects -------------------------------------------------------------

  async createProject(input: { id?: string; name: string }): Promise<ProjectInfo> {
    const info = await this.folders.create(input);
    // A new project gets its media.json at once.
    await (await this.library(info.id)).store.enqueue(ops.initialise());
    return info;
  }

  listProjects(): Promise<ProjectInfo[]> {
    return this.folders.list();
  }

  async getProject(projectId: string): Promise<ProjectInfo> {
    return this.folders.info(await this.folders.resolve(projectId));
  }

  async deleteProject(projectId: string): Promise<void> {
    const project = await this.folders.resolve(projectId);
    const library = this.libraries.get(project.id);
    this.libraries.delete(project.id);
    for (const [alias, id] of this.aliases) if (id === project.id) this.aliases.delete(alias);
    if (library) await (await library.catch(() => null))?.store.close();
    await this.folders.remove(project, projectId);
  }

  // --- libraries --------------------------------------------------------------

  /** The open library of a project, opening (sweeping, validating, recovering) it on first use. Opening never writes media.json. */
  async library(projectId: string): Promise<FileLibrary> {
    const known = this.libraries.get(this.aliases.get(projectId) ?? projectId);
    if (known) return known;
    const project = await this.folders.resolve(projectId);
    // Keyed by the canonical id: a UUID and its folder name share one library.
    if (project.id !== projectId) this.aliases.set(projectId, project.id);
    let pending = this.libraries.get(project.id);
    if (!pending) {
      pending = this.open(project);
      this.libraries.set(project.id, pending);
      pending.catch(() => {
        if (this.libraries.get(project.id) === pending) this.libraries.delete(project.id);
      });
    }
    return pending;
  }

  /**
   * Runs one write call of the service (LibraryBackend.admitWrite). Write
   * calls learn their library strictly in call order: opening a project
   * resolves its id asynchronously (projects.json), and concurrent first
   * calls must not overtake each other on the way to the queue (invariant 1;
   * per project id, so a slow open of one project holds up no other). Then
   * the process's first write queues the usage reconcile, and `call` queues
   * its operation behind it, with no await in between. Every write call
   * reconciles, even one its own validation then refuses, so the rule is
   * simply "the first write call of a process"; a refused call answers only
   * once that reconcile is done.
   */
  async admitWrite<R>(projectId: string, call: (library: MediaLibrary) => Promise<R>): Promise<R> {
    const pending = (this.writeAdmission.get(projectId) ?? Promise.resolve()).then(() => this.library(projectId));
    const tail = pending.then(
      () => undefined,
      () => undefined,
    );
    this.writeAdmission.set(projectId, tail);
    void tail.then(() => {
      if (this.writeAdmission.get(projectId) === tail) this.writeAdmission.delete(projectId);
    });
    const library = await pending;
    const reconciling = library.reconcileBeforeFirstWrite();
    try {
      return await call(library);
    } catch (err) {
      await reconciling;
      throw err;
    }
  }

  private async open(project: ResolvedProject): Promise<FileLibrary> {
    const store = new ProjectStore(project.id, join(this.folders.projectsDir, project.folder), {
      fs: this.fs,
      logger: this.logger,
      counters: this.counters,
      lockTimeoutMs: this.lockTimeoutMs,
      staleLockMs: this.staleLockMs,
      isThreadAlive: (id) => !this.deadThreads.has(id),
      // The dead holder may have died between the two commits of a content batch: trim its over-marks.
      onLockTakeover: (taken) => {
        taken.enqueue(ops.refreshUsage('withFiles')).catch((err: unknown) =>
          this.logger.warn({ project: project.id, err }, 'usage reconcile after a lock takeover failed; the next write reconciles'),
        );
      },
    });
    const opened = await store.open();
    this.logger.info({ project: project.id, folder: project.folder, ...opened }, 'project opened');
    return new FileLibrary(store, this.fs, this.logger);
  }

  async drain(): Promise<{ projects: number; operations: number }> {
    const libraries = [...this.libraries.values()];
    this.libraries.clear();
    let operations = 0;
    let projects = 0;
    for (const pending of libraries) {
      const library = await pending.catch(() => null);
      if (!library) continue;
      projects++;
      operations += await library.store.close();
    }
    return { projects, operations };
  }
}
