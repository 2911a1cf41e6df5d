/**
 * Usage as it is on disk, judged from the bytes alone: media.json and the
 * content files, read with plain fs before any storage worker opens the
 * project. Opening a project reconciles every source's usage with its
 * content file, so a check made through a freshly started client cannot see
 * usage that was lost on disk — this one can.
 *
 * Deliberately independent of the storage's code paths: it shares the
 * usage extractor (which paths a piece of content uses, through the
 * disk-format door) and the names of the files (shared/project-paths.ts);
 * the path → record mapping is written out here again. The layout itself is
 * checked against the editor's own files by the compat tests
 * (test/fixtures/editor-data.ts spells it as the editor does).
 *
 * The rule checked by callers: never under-marked (a media path a content
 * file uses is in that record's usedIn for that file's source). Over-marks are
 * returned too: after a clean shutdown there should be none; after a crash
 * only the crashed, unacknowledged save may leave some.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../shared/errno.js';
import { extractMediaPaths } from '../disk-format.js';
import { GLOBALS_DIR, globalFileOf, mediaFileOf, PAGES_DIR, pageFileOf, THEME_FILE } from '../shared/project-paths.js';

/** One (source, record) pair where marks and content disagree. */
export interface UsageMismatch {
  source: string;
  fileId: string;
  /** for an over-mark: whether the source has a content file at all (setUsage marks have none) */
  hasContentFile: boolean;
}

export interface DiskUsage {
  /** a content file uses the record, but its usedIn lacks the source */
  underMarks: UsageMismatch[];
  /** the record's usedIn names the source, but the source's content does not use it */
  overMarks: UsageMismatch[];
  /** source → ids of the records its content file uses */
  used: Map<string, Set<string>>;
  /** content files that do not parse (a half-written file would show up here) */
  unreadable: string[];
  /** the records of media.json as read */
  files: DiskRecord[];
}

export interface DiskRecord {
  id: string;
  path: string;
  sizes?: Record<string, { path: string }>;
  usedIn: string[];
}

const THEME_SOURCE = 'global:theme-settings';

/** `<projectDir>/pages/<id>.json` → id, `pages/global/<type>.json` → `global:<type>`, `theme.json` → theme. */
async function contentFiles(projectDir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const jsonNames = async (dir: string): Promise<string[]> => {
    try {
      return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => e.name);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  };
  for (const name of await jsonNames(join(projectDir, PAGES_DIR))) files.set(name.slice(0, -5), join(projectDir, pageFileOf(name.slice(0, -5))));
  for (const name of await jsonNames(join(projectDir, GLOBALS_DIR))) {
    files.set(`global:${name.slice(0, -5)}`, join(projectDir, globalFileOf(name.slice(0, -5))));
  }
  if ((await jsonNames(projectDir)).includes(THEME_FILE)) files.set(THEME_SOURCE, join(projectDir, THEME_FILE));
  return files;
}

function slashed(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/** Compares every record's usedIn with the content files of one project directory. */
export async function readDiskUsage(projectDir: string): Promise<DiskUsage> {
  const doc = JSON.parse(await readFile(mediaFileOf(projectDir), 'utf8')) as { files: DiskRecord[] };
  const ownersByPath = new Map<string, string[]>();
  for (const rec of doc.files) {
    for (const path of new Set([rec.path, ...Object.values(rec.sizes ?? {}).map((v) => v.path)].map(slashed))) {
      ownersByPath.set(path, [...(ownersByPath.get(path) ?? []), rec.id]);
    }
  }
  const used = new Map<string, Set<string>>();
  const unreadable: string[] = [];
  for (const [source, file] of await contentFiles(projectDir)) {
    let content: unknown;
    try {
      content = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      unreadable.push(file);
      continue;
    }
    const ids = new Set<string>();
    for (const path of extractMediaPaths(content)) for (const id of ownersByPath.get(path) ?? []) ids.add(id);
    used.set(source, ids);
  }
  const underMarks: UsageMismatch[] = [];
  const overMarks: UsageMismatch[] = [];
  for (const rec of doc.files) {
    const marked = new Set(rec.usedIn);
    for (const [source, ids] of used) {
      if (ids.has(rec.id) && !marked.has(source)) underMarks.push({ source, fileId: rec.id, hasContentFile: true });
    }
    for (const source of marked) {
      const ids = used.get(source);
      if (!ids?.has(rec.id)) overMarks.push({ source, fileId: rec.id, hasContentFile: ids !== undefined });
    }
  }
  return { underMarks, overMarks, used, unreadable, files: doc.files };
}
