/**
 * The embedded backend: every project is a folder under
 * `<dataDir>/projects/`, its library `uploads/media.json` under a pid-stamped
 * lock, one ProjectStore (one lowdb instance) per open project, kept open
 * until the project is deleted or the backend drained. Projects are
 * resolved through the editor's registry (projects.json, project-registry.ts);
 * a UUID and its folder name open one and the same library.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import { StorageError } from '../shared/errors.js';
import type { ProjectInfo } from '../shared/media-types.js';
import { errnoCode, realFs, type FsSeam } from './fs-seam.js';
import { FileLibrary } from './file-library.js';
import type { LibraryBackend, MediaLibrary } from './library-backend.js';
import * as ops from './media-operations.js';
import { isUsableEntry, ProjectRegistry, type ResolvedProject } from './project-registry.js';
import { ProjectStore } from './project-store.js';
import { makeTempName } from './temp-file-name.js';
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

const PROJECT_FILE = 'project.json';

export class FileBackend implements LibraryBackend {
  readonly kind = 'files';
  private readonly fs: FsSeam;
  private readonly logger: pino.Logger;
  private readonly counters: WorkerCounters;
  private readonly projectsDir: string;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly deadThreads: Set<number>;
  private readonly registry: ProjectRegistry;
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
    this.projectsDir = join(options.dataDir, 'projects');
    this.lockTimeoutMs = options.lockTimeoutMs ?? 5000;
    this.staleLockMs = options.staleLockMs ?? 10_000;
    this.deadThreads = new Set(options.deadThreadIds ?? []);
    this.registry = new ProjectRegistry(this.projectsDir, this.fs, {
      timeoutMs: this.lockTimeoutMs,
      staleMs: this.staleLockMs,
      isThreadAlive: (id) => !this.deadThreads.has(id),
    });
  }

  /** Projects with an open (or opening) library, for stats and ping. */
  get openProjects(): number {
    return this.libraries.size;
  }

  // --- projects -------------------------------------------------------------

  async createProject(input: { id?: string; name: string }): Promise<ProjectInfo> {
    await this.fs.mkdir(this.projectsDir);
    // Under the registry's lock: two processes creating projects at once can
    // neither claim the same folder nor lose each other's entry.
    const info = await this.registry.update(async (projects) => {
      const taken = new Set<string>();
      for (const e of projects.filter(isUsableEntry)) taken.add(e.id).add(e.folderName);
      const made = await this.claimFree(input.id, input.name, taken);
      // The editor lists projects from this file: register what we made (id = folder name).
      projects.push({ id: made.id, folderName: made.folder, name: made.name, created: made.createdAt, updated: made.createdAt });
      return { write: true, result: made };
    });
    const library = await this.library(info.id);
    await library.store.enqueue(ops.initialise());
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
    const library = this.libraries.get(project.id);
    this.libraries.delete(project.id);
    for (const [alias, id] of this.aliases) if (id === project.id) this.aliases.delete(alias);
    if (library) await (await library.catch(() => null))?.store.close();
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

  // --- libraries --------------------------------------------------------------

  /** The open library of a project, opening (sweeping, validating, recovering) it on first use. Opening never writes media.json. */
  async library(projectId: string): Promise<FileLibrary> {
    const known = this.libraries.get(this.aliases.get(projectId) ?? projectId);
    if (known) return known;
    const project = await this.resolve(projectId);
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
    const store = new ProjectStore(project.id, join(this.projectsDir, project.folder), {
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
