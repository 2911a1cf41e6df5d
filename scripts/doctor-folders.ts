/**
 * The doctor's look at the blob dir as a whole, for a backend that keeps its
 * libraries apart from the binaries (PostgreSQL): a folder under
 * `DATA_DIR/projects/` that belongs to no project.
 *
 * Where they come from: deleting a project commits in the database first and
 * removes its folder after (server/routes/projects.ts), so a server killed in
 * between leaves the whole folder; one killed during the removal leaves a
 * `.removing-<folder>-<uuid>` folder (directory-blob-store.ts).
 *
 * With `fix`: a `.removing-*` folder goes at once (nobody writes to a name
 * made up for a removal); a folder without a project only once everything in
 * it is older than the minimum age, and only if the project list, read again
 * just before, still has no project there (a project just created, or an
 * upload just staged in it, keeps it).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../shared/errno.js';
import type { StorageApi } from '../shared/storage-api.js';
import { projectsDirOf } from '../shared/project-paths.js';
import { directoryBlobStore, REMOVING_PREFIX } from '../server/blob-store/directory-blob-store.js';

export interface StrayFolder {
  /** `projects/<name>` */
  folder: string;
  /** age of the newest thing in it */
  ageMs: number;
  removed: boolean;
  /** a half-done removal (`.removing-*`) */
  removal: boolean;
}

export async function examineFolders(
  storage: Pick<StorageApi, 'listProjects'>,
  dataDir: string,
  options: { fix: boolean; orphanMinAgeMs: number },
): Promise<StrayFolder[]> {
  const root = projectsDirOf(dataDir);
  const owned = async () => new Set((await storage.listProjects()).map((p) => p.folder));
  let known = await owned();
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const now = Date.now();
  const strays: StrayFolder[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || known.has(entry.name)) continue;
    const newest = await newestMtimeMs(join(root, entry.name));
    if (newest === undefined) continue; // removed meanwhile
    strays.push({ folder: `projects/${entry.name}`, ageMs: now - newest, removed: false, removal: entry.name.startsWith(REMOVING_PREFIX) });
  }
  const removable = strays.filter((s) => s.removal || s.ageMs >= options.orphanMinAgeMs);
  if (options.fix && removable.length > 0) {
    known = await owned(); // read again right before removing
    for (const stray of removable) {
      const name = stray.folder.slice('projects/'.length);
      if (known.has(name)) continue;
      const failures = await directoryBlobStore.removeProjectFolder(join(root, name));
      if (failures.length > 0) throw new Error(`cannot remove ${stray.folder}: ${failures.map((f) => `${f.path} ${f.errno}`).join(', ')}`);
      stray.removed = true;
    }
  }
  return strays.filter((s) => !known.has(s.folder.slice('projects/'.length)));
}

/** The newest mtime of a folder and everything under it; undefined when it is gone. */
async function newestMtimeMs(dir: string): Promise<number | undefined> {
  let newest: number | undefined;
  const pending = [dir];
  while (pending.length > 0) {
    const at = pending.pop()!;
    const info = await stat(at).catch(() => null);
    if (!info) continue;
    newest = Math.max(newest ?? 0, info.mtimeMs);
    if (!info.isDirectory()) continue;
    for (const name of await readdir(at).catch(() => [] as string[])) pending.push(join(at, name));
  }
  return newest;
}
