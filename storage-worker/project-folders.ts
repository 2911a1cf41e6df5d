/**
 * The projects of the file backend as folders under `<dataDir>/projects/`:
 * claiming a new one (its folder, project.json, its projects.json entry),
 * resolving and describing one, listing them, removing one. What a project's
 * folder holds beyond that (its library, its content) is ProjectStore's.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StorageError } from '../shared/errors.js';
import type { ProjectInfo } from '../shared/media-types.js';
import { PROJECT_FILE, PROJECT_SUBDIRS } from '../shared/project-paths.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { projectIdCandidates } from './project-id-candidates.js';
import { isUsableEntry, type ProjectRegistry, type ResolvedProject } from './project-registry.js';
import { publishFile } from './temp-file-publish.js';


export class ProjectFolders {
  constructor(
    readonly projectsDir: string,
    private readonly fs: FsSeam,
    private readonly registry: ProjectRegistry,
  ) {}

  /** Claims a folder under `id`, or under the first free id derived from `name`; PROJECT_EXISTS if `id` is taken. */
  async create(input: { id?: string; name: string }): Promise<ProjectInfo> {
    await this.fs.mkdir(this.projectsDir);
    // Under the registry's lock: two processes creating projects at once can
    // neither claim the same folder nor lose each other's entry.
    return this.registry.update(async (projects) => {
      const taken = new Set<string>();
      for (const e of projects.filter(isUsableEntry)) taken.add(e.id).add(e.folderName);
      const made = await this.claimFree(input.id, input.name, taken);
      // The editor lists projects from this file: register what we made (id = folder name).
      projects.push({ id: made.id, folderName: made.folder, name: made.name, created: made.createdAt, updated: made.createdAt });
      return { write: true, result: made };
    });
  }

  /** The explicit id, or the first free id derived from the name; never a folder or id the editor already uses. */
  private async claimFree(id: string | undefined, name: string, taken: ReadonlySet<string>): Promise<ProjectInfo> {
    if (id !== undefined) {
      const made = taken.has(id) ? null : await this.claimProject(id, name);
      if (!made) throw new StorageError('PROJECT_EXISTS', `a project with id ${id} already exists`, { projectId: id });
      return made;
    }
    for (const candidate of projectIdCandidates(name)) {
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
    const text = JSON.stringify({ id, name, createdAt: info.createdAt }, null, 2);
    let claimed;
    try {
      claimed = await publishFile(this.fs, join(dir, PROJECT_FILE), text, { by: 'link' });
    } catch (err) {
      throw StorageError.from(err, 'STORAGE_IO');
    }
    if (claimed === 'taken') return null;
    for (const sub of PROJECT_SUBDIRS) {
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
  async list(): Promise<ProjectInfo[]> {
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
      out.push(await this.info({ id: entry.id, folder: entry.folderName, entry }));
    }
    for (const folder of folders) {
      if (listed.has(folder)) continue;
      try {
        out.push(await this.info({ id: folder, folder, entry: null }));
      } catch (err) {
        if (!(err instanceof StorageError && err.code === 'PROJECT_NOT_FOUND')) throw err;
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** A project id (an editor UUID, or a folder name) → its canonical id and folder; PROJECT_NOT_FOUND if none. */
  async resolve(projectId: string): Promise<ResolvedProject> {
    const found = await this.registry.resolve(projectId);
    if (!found) throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
    return found;
  }

  async info({ id, folder, entry }: ResolvedProject): Promise<ProjectInfo> {
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

  /** Removes a project's folder and its registry entry (its library must be closed first). */
  async remove(project: ResolvedProject, asked: string): Promise<void> {
    // Rename first so the project disappears at once, even if removing its files takes a while.
    const trash = join(this.projectsDir, `.deleted-${project.folder}-${randomBytes(4).toString('hex')}`);
    try {
      await this.fs.rename(join(this.projectsDir, project.folder), trash);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${asked}`, { projectId: asked });
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
}
