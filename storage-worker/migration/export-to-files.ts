/**
 * `mediastore export --from <postgres-url> --to <dataDir> [--dry-run]`:
 * every project in PostgreSQL back to the editor's files, so nobody is
 * locked in. Per project, through the file backend's own write paths:
 * the library and content files in one batch (import-operation.ts), then
 * the projects.json entry (the registry's lock and atomic write, other
 * entries kept) — last, so the editor never lists a half-written project.
 * A project without an entry gets a project.json (its name and creation
 * time), as mediastore's own folders have.
 *
 * Binaries are not moved: they stay where the server keeps them
 * (`uploads/` beside media.json, or the blob store), export writes only
 * what PostgreSQL holds.
 *
 * Never overwrites: a project whose folder exists in the target is
 * `unchanged` when it holds exactly this version, else skipped with why.
 * The database is only read (its schema must be current).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { StorageError } from '../../shared/errors.js';
import { AtomicJsonFile } from '../atomic-json-file.js';
import { FileBackend } from '../file-backend.js';
import { errnoCode, realFs } from '../fs-seam.js';
import { Database } from '../postgres/database.js';
import { isUsableEntry, ProjectRegistry } from '../project-registry.js';
import { FilesSource } from './files-source.js';
import { importLibrary } from './import-operation.js';
import { emptyCounts, type MigrationReport, type ProjectOutcome, type ProjectReport } from './migration-report.js';
import { contentCountsOf, fingerprintOf, type ProjectImage } from './project-image.js';
import { readPostgresImage } from './postgres-images.js';
import { schemaState } from './schema-state.js';

export interface ExportOptions {
  databaseUrl: string;
  /** the data directory to write (`projects/` under it); made if missing */
  to: string;
  dryRun: boolean;
}

export async function exportToFiles(options: ExportOptions): Promise<MigrationReport> {
  const db = new Database({ databaseUrl: options.databaseUrl, maxConnections: 2 });
  const projectsDir = join(options.to, 'projects');
  const target = new FilesSource(options.to);
  const backend = new FileBackend({ dataDir: options.to, logger: pino({ level: 'silent' }) });
  const registry = new ProjectRegistry(projectsDir, realFs, { timeoutMs: 5000, staleMs: 10_000 });
  try {
    if ((await db.transaction('read', schemaState)) === 'none') return { command: 'export', dryRun: options.dryRun, projects: [] };
    const ids = await db.transaction('read', async (q) => (await q.query<{ id: string }>('SELECT id FROM projects ORDER BY created_at, id')).rows.map((r) => r.id));
    const projects: ProjectReport[] = [];
    for (const id of ids) {
      const image = await db.transaction('read', (q) => readPostgresImage(q, id, false));
      if (!image) continue; // deleted meanwhile
      const report = (outcome: ProjectOutcome, reason?: string): ProjectReport => ({
        id: image.id,
        folder: image.folder,
        outcome,
        ...(reason ? { reason } : {}),
        records: image.records.length,
        ...contentCountsOf(image),
        notes: [],
      });
      try {
        const blocked = await whyNotFresh(image, projectsDir, registry, target);
        if (blocked === 'same') projects.push(report('unchanged'));
        else if (blocked !== null) projects.push(report('skipped', blocked));
        else {
          if (!options.dryRun) {
            try {
              await writeProject(image, projectsDir, backend, registry);
            } finally {
              await backend.drain(); // one project's library in memory at a time
            }
          }
          projects.push(report('migrated'));
        }
      } catch (err) {
        const error = StorageError.from(err);
        projects.push(report('skipped', `${error.code}: ${error.message}`));
      }
    }
    return { command: 'export', dryRun: options.dryRun, projects };
  } finally {
    await backend.drain();
    await target.close();
    await db.close();
  }
}

/** null: the target has no such project (write it); 'same': it holds exactly this version; else why it is left alone. */
async function whyNotFresh(image: ProjectImage, projectsDir: string, registry: ProjectRegistry, target: FilesSource): Promise<string | 'same' | null> {
  const entries = await registry.entries();
  const clash = entries.find((e) => (e.id === image.id) !== (e.folderName === image.folder));
  if (clash) return `projects.json of the target maps ${clash.id} to the folder ${clash.folderName}: not overwritten`;
  if (!(await isDirectory(join(projectsDir, image.folder)))) return null;
  const there = await target.readAndClose(image.folder);
  if (!there.ok) return `the target folder ${image.folder} exists: ${there.reason}`;
  if (fingerprintOf(there.image) === fingerprintOf(image)) return 'same';
  return `the target folder ${image.folder} exists and differs: not overwritten (export into a fresh directory, or remove the folder)`;
}

async function writeProject(image: ProjectImage, projectsDir: string, backend: FileBackend, registry: ProjectRegistry): Promise<void> {
  const dir = join(projectsDir, image.folder);
  await mkdir(dir, { recursive: true });
  // A project no projects.json entry names (a folder the editor never registered, or one made in PostgreSQL
  // under its own id): project.json keeps its name and creation time. One whose id is not its folder needs an entry.
  const entry =
    image.registryEntry ??
    (image.id === image.folder ? null : { id: image.id, folderName: image.folder, name: image.name, created: image.createdAt, updated: image.createdAt });
  if (!entry) {
    const projectJson = new AtomicJsonFile<unknown>(join(dir, 'project.json'), { parse: (text) => JSON.parse(text) as unknown });
    await projectJson.write({ id: image.id, name: image.name, createdAt: image.createdAt });
  }
  const library = await backend.library(image.folder);
  await library.store.enqueue(importLibrary(image.records, image.content));
  if (entry) {
    await registry.update(async (projects) => {
      const at = projects.findIndex((e) => isUsableEntry(e) && e.id === image.id);
      if (at === -1) projects.push(entry);
      else projects[at] = entry;
      return { write: true, result: undefined };
    });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await realFs.stat(path)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw StorageError.from(err, 'STORAGE_IO');
  }
}
