/**
 * The editor's project registry, `<dataDir>/projects/projects.json`:
 * `{ "projects": [ { id, folderName, name, … } ] }`. The editor's URLs carry
 * the entry's `id` (a UUID) while the files live in `projects/<folderName>/`,
 * so every project id is resolved here. A folder with no entry (made by hand,
 * or by an older mediastore) still opens under its folder name.
 *
 * The file is the editor's: reading never writes it, and only a create or a
 * delete rewrites it — parsed and re-serialised with every other entry and
 * field as it was (2-space pretty print, as the editor writes it), through
 * AtomicJsonFile (unique temp, fsync, rename, directory fsync), under a lock
 * file next to it so two processes creating projects at once never lose an
 * entry.
 */
import { join } from 'node:path';
import { StorageError } from '../shared/errors.js';
import { AtomicJsonFile } from './atomic-json-file.js';
import { ID_PATTERN } from '../shared/ids.js';
import { lockFileOf, REGISTRY_FILE, registryFileOf } from '../shared/project-paths.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { sweepLeftovers } from './leftover-sweep.js';
import { ProjectLock, type ProjectLockOptions } from './project-lock.js';


/** An entry as the editor writes it; fields mediastore does not know are kept. */
export interface RegistryEntry {
  id: string;
  folderName: string;
  name?: unknown;
  created?: unknown;
  [field: string]: unknown;
}

interface RegistryDocument {
  projects: unknown[];
  [field: string]: unknown;
}

/** Where a project id leads: its canonical id (the entry's, else the folder's) and its folder. */
export interface ResolvedProject {
  id: string;
  folder: string;
  entry: RegistryEntry | null;
}

export class ProjectRegistry {
  readonly path: string;
  private readonly file: AtomicJsonFile<RegistryDocument>;
  private readonly lock: ProjectLock;

  constructor(
    private readonly projectsDir: string,
    private readonly fs: FsSeam,
    private readonly lockOptions: Omit<ProjectLockOptions, 'fs' | 'project'>,
  ) {
    this.path = registryFileOf(projectsDir);
    this.file = new AtomicJsonFile<RegistryDocument>(this.path, { fs, parse: parseRegistry });
    this.lock = new ProjectLock(lockFileOf(this.path), { ...lockOptions, fs, project: REGISTRY_FILE });
  }

  /**
   * The usable entries: an entry whose id or folderName could not be a safe
   * path segment is ignored (never joined into a path). A missing file is no
   * entries; an unreadable one too (its folders still open by name) — it is
   * only refused when something must be written to it.
   */
  async entries(): Promise<RegistryEntry[]> {
    let doc: RegistryDocument | null;
    try {
      doc = await this.file.read();
    } catch (err) {
      if (err instanceof StorageError && err.code === 'CORRUPT_DOCUMENT') return [];
      throw err;
    }
    return doc ? usableEntries(doc) : [];
  }

  /** Resolve a project id (validated by the caller) to its canonical id and folder; null: no such project. */
  async resolve(id: string): Promise<ResolvedProject | null> {
    const entries = await this.entries();
    const byId = entries.find((e) => e.id === id);
    if (byId) return (await this.isFolder(byId.folderName)) ? { id: byId.id, folder: byId.folderName, entry: byId } : null;
    // The folder name of a registered project names the same project (one store, its UUID as id).
    const byFolder = entries.find((e) => e.folderName === id);
    if (byFolder) return (await this.isFolder(id)) ? { id: byFolder.id, folder: id, entry: byFolder } : null;
    return (await this.isFolder(id)) ? { id, folder: id, entry: null } : null;
  }

  /**
   * Runs `change` on the registry under its lock and writes the result
   * atomically if `change` returned true. `change` sees the document as on
   * disk at that moment (another process may have added entries meanwhile).
   */
  async update<R>(change: (projects: unknown[]) => Promise<{ write: boolean; result: R }>): Promise<R> {
    const held = await this.lock.acquire();
    try {
      // Temp files of registry writes whose process died (a project folder is
      // swept when it opens; this directory holds only the registry's files).
      const { isThreadAlive } = this.lockOptions;
      await sweepLeftovers(this.projectsDir, isThreadAlive ? { fs: this.fs, isThreadAlive } : { fs: this.fs });
      let doc: RegistryDocument | null;
      try {
        doc = await this.file.read();
      } catch (err) {
        // Never replace a registry we cannot read: the editor's projects would be lost.
        throw StorageError.from(err, 'CORRUPT_DOCUMENT');
      }
      const next: RegistryDocument = doc ?? { projects: [] };
      const { write, result } = await change(next.projects);
      if (write) await this.file.write(next);
      return result;
    } finally {
      await held.release();
    }
  }

  private async isFolder(folder: string): Promise<boolean> {
    try {
      return (await this.fs.stat(join(this.projectsDir, folder))).isDirectory();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
      throw StorageError.from(err, 'STORAGE_IO');
    }
  }
}

export function usableEntries(doc: RegistryDocument): RegistryEntry[] {
  return doc.projects.filter(isUsableEntry);
}

export function isUsableEntry(value: unknown): value is RegistryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { id, folderName } = value as Record<string, unknown>;
  return typeof id === 'string' && ID_PATTERN.test(id) && typeof folderName === 'string' && ID_PATTERN.test(folderName);
}

function parseRegistry(text: string): RegistryDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StorageError('CORRUPT_DOCUMENT', `${REGISTRY_FILE} is not valid JSON: ${(err as Error).message}`, { file: REGISTRY_FILE });
  }
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as RegistryDocument).projects)) {
    throw new StorageError('CORRUPT_DOCUMENT', `${REGISTRY_FILE} has no \`projects\` array`, { file: REGISTRY_FILE });
  }
  return raw as RegistryDocument;
}
