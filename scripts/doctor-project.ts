/**
 * The doctor's examination of one project, through the storage API (same
 * worker code, same locks as the server, so it is safe while a server runs):
 *
 * - opening the project validates media.json (a corrupt one is quarantined
 *   and restored from its backup by the worker, or the project is refused);
 * - every record's original and size variants must exist on disk;
 * - every file in the upload folders must belong to a record; the others are
 *   orphans (an interrupted upload, a delete whose server died before it
 *   removed the bytes). One younger than the minimum age may be an upload in
 *   progress (bytes are written before the record is committed) and is only
 *   listed.
 *
 * - `.staged-*` files (server/blob-store/directory-blob-store.ts) are the
 *   bytes of an upload whose name is claimed in the database: written before
 *   its record commits, renamed to the claimed name after. Never served, never
 *   a record's; one older than the minimum age is the leftover of an upload
 *   whose server died, listed apart from orphans.
 *
 * With `fix`: usage is rebuilt from the saved content, and orphans and staged
 * files older than the minimum age are removed. The record list is read again
 * just before, so a record committed meanwhile keeps its file, and each file
 * is looked at again right before it goes: one replaced meanwhile (an upload
 * published under that name) is kept. What is left is the moment between
 * that look and the unlink, and only for an old orphan *variant* whose
 * original is gone (an upload skips a name whose original exists). Records whose bytes are missing are
 * only reported: deleting them would not bring the bytes back.
 */
import type { Stats } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../shared/errno.js';
import { StorageError } from '../shared/errors.js';
import type { MediaDocument, MediaRecord } from '../shared/media-types.js';
import type { StorageApi } from '../shared/storage-api.js';
import { folderOfPath, MEDIA_FOLDERS, uploadsDirOf } from '../shared/project-paths.js';
import { STAGED_PREFIX } from '../server/blob-store/directory-blob-store.js';
import { exists } from './file-exists.js';

export interface Orphan {
  /** `images/name.png` */
  file: string;
  ageMs: number;
  removed: boolean;
}

export interface ProjectReport {
  project: string;
  /** null when the project could not be opened */
  files: number | null;
  /** why the project could not be opened (code and message) */
  error?: { code: string; message: string };
  /** records whose original or a size variant is missing: `<record filename>: <missing path>` */
  missing: string[];
  orphans: Orphan[];
  /** `.staged-*` files: uploads in progress, or (old) left by an upload whose server died */
  staged: Orphan[];
  /** set when `fix` rebuilt usage */
  usageRebuilt?: { sources: number; filesInUse: number };
}

export interface ExamineOptions {
  fix: boolean;
  /** orphans and staged files younger than this are listed, never removed (default one hour) */
  orphanMinAgeMs: number;
}

export async function examineProject(
  storage: Pick<StorageApi, 'listMedia' | 'refreshUsage' | 'getProject'>,
  dataDir: string,
  project: string,
  options: ExamineOptions,
): Promise<ProjectReport> {
  const report: ProjectReport = { project, files: null, missing: [], orphans: [], staged: [] };
  let doc: MediaDocument;
  let folder: string;
  try {
    doc = await storage.listMedia(project);
    folder = (await storage.getProject(project)).folder; // an editor project's files live under its folderName
  } catch (err) {
    const e = StorageError.from(err);
    report.error = { code: e.code, message: e.message };
    return report;
  }
  report.files = doc.files.length;
  const uploads = uploadsDirOf(dataDir, folder);

  const firstMisses: Array<{ label: string; location?: string }> = [];
  for (const rec of doc.files) {
    for (const path of recordPaths(rec)) {
      const where = folderOfPath(path);
      const location = where && join(uploads, where.folder, where.filename);
      if (!location || !(await exists(location))) firstMisses.push({ label: `${rec.filename}: ${path}`, ...(location ? { location } : {}) });
    }
  }

  if (options.fix) report.usageRebuilt = await storage.refreshUsage(project);

  const referenced = referencedFiles(doc);
  const now = Date.now();
  const candidates: Candidate[] = [];
  for (const folder of MEDIA_FOLDERS) {
    let names: string[];
    try {
      names = await readdir(join(uploads, folder));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // a folder never created
      throw err;
    }
    for (const name of names) {
      const file = `${folder}/${name}`;
      if (referenced.has(file)) continue;
      const info = await stat(join(uploads, folder, name)).catch(() => null);
      if (!info?.isFile()) continue; // removed meanwhile, or not a file
      candidates.push({ file, ageMs: now - info.mtimeMs, removed: false, staged: name.startsWith(STAGED_PREFIX), identity: identityOf(info) });
    }
  }

  let refs = referenced;
  const old = candidates.filter((o) => o.ageMs >= options.orphanMinAgeMs);
  if (options.fix && old.length > 0) {
    // Read the records again right before removing: only what is still unreferenced goes.
    refs = referencedFiles(await storage.listMedia(project));
    for (const orphan of old) {
      if (refs.has(orphan.file)) continue;
      const path = join(uploads, orphan.file);
      // The same file as judged? An upload may have published its bytes under this name since.
      const current = await stat(path).catch(() => null);
      if (!current || identityOf(current) !== orphan.identity) continue;
      try {
        await unlink(path);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err; // ENOENT: gone already
      }
      orphan.removed = true;
    }
  }
  const unreferenced = candidates.filter((o) => !refs.has(o.file)).map(({ file, ageMs, removed, staged }) => ({ orphan: { file, ageMs, removed }, staged }));
  report.orphans = unreferenced.filter((c) => !c.staged).map((c) => c.orphan);
  report.staged = unreferenced.filter((c) => c.staged).map((c) => c.orphan);
  // A second look, once the scan is done: with names claimed in a database an upload's record
  // commits before its bytes are published (a rename per file), so a first miss may be that moment.
  for (const miss of firstMisses) if (!miss.location || !(await exists(miss.location))) report.missing.push(miss.label);
  return report;
}

interface Candidate extends Orphan {
  staged: boolean;
  /** device, inode, size and mtime when judged */
  identity: string;
}

function identityOf(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
}

function recordPaths(rec: MediaRecord): string[] {
  return [rec.path, ...Object.values(rec.sizes ?? {}).map((v) => v.path)];
}

/** `images/name.png` of every original and size variant the document names. */
function referencedFiles(doc: MediaDocument): Set<string> {
  const out = new Set<string>();
  for (const rec of doc.files) {
    for (const path of recordPaths(rec)) {
      const where = folderOfPath(path);
      if (where) out.add(`${where.folder}/${where.filename}`);
    }
  }
  return out;
}
