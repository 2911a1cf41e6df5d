/**
 * Every path of a project, named once. The data directory holds
 *
 * ```
 * projects/projects.json                        the editor's registry (UUID → folderName)
 * projects/<folder>/project.json                { id, name, createdAt } (projects mediastore created)
 * projects/<folder>/uploads/media.json          the media library (+ .bak, .lock, .gen beside it)
 * projects/<folder>/uploads/<media folder>/     binaries: images, videos, audios, files
 * projects/<folder>/pages/<pageId>.json         page content
 * projects/<folder>/pages/global/<type>.json    header, footer, …
 * projects/<folder>/theme.json                  theme settings (source global:theme-settings)
 * ```
 *
 * and a record names its binary by its served path `/uploads/<media folder>/<filename>`.
 * Callers pass ids and names they validated (ID_PATTERN, FILENAME_PATTERN); these
 * functions only join.
 */
import { join } from 'node:path';
import { FILENAME_PATTERN } from './ids.js';
import type { MediaFolder, MediaRecord } from './media-types.js';

export const PROJECTS_DIR = 'projects';
export const REGISTRY_FILE = 'projects.json';
export const PROJECT_FILE = 'project.json';
export const UPLOADS_DIR = 'uploads';
export const MEDIA_FILE = 'media.json';
export const PAGES_DIR = 'pages';
/** relative to the project folder */
export const GLOBALS_DIR = join(PAGES_DIR, 'global');
export const THEME_FILE = 'theme.json';

export const MEDIA_FOLDERS: readonly MediaFolder[] = ['images', 'videos', 'audios', 'files'];

export function isMediaFolder(value: string | undefined): value is MediaFolder {
  return MEDIA_FOLDERS.some((f) => f === value);
}

/** `<dataDir>/projects` */
export function projectsDirOf(dataDir: string): string {
  return join(dataDir, PROJECTS_DIR);
}

/** `<projectsDir>/projects.json`: the editor's registry */
export function registryFileOf(projectsDir: string): string {
  return join(projectsDir, REGISTRY_FILE);
}

/**
 * `<dataDir>/projects/<folder>`. `folder` is the project's folder as the
 * storage reports it (`ProjectInfo.folder`): an editor project's URL id is a
 * UUID while its files live under its `folderName`.
 */
export function projectDirOf(dataDir: string, folder: string): string {
  return join(projectsDirOf(dataDir), folder);
}

/** `<dataDir>/projects/<folder>/uploads` */
export function uploadsDirOf(dataDir: string, folder: string): string {
  return join(projectDirOf(dataDir, folder), UPLOADS_DIR);
}

/** `<projectDir>/uploads/media.json` */
export function mediaFileOf(projectDir: string): string {
  return join(projectDir, UPLOADS_DIR, MEDIA_FILE);
}

/** `<file>.bak`: a hard link to the previous good version */
export function backupFileOf(file: string): string {
  return `${file}.bak`;
}

/** `<file>.lock`: present only while a writer holds the file */
export function lockFileOf(file: string): string {
  return `${file}${LOCK_SUFFIX}`;
}

export const LOCK_SUFFIX = '.lock';

/** `<file>.gen`: the generation nonce beside a library file */
export function generationFileOf(file: string): string {
  return `${file}.gen`;
}

const QUARANTINE_MARK = '.corrupt-';

/**
 * `<file>.corrupt-<time>-<pid>`: where a file that failed to validate is set
 * aside (kept for whoever repairs it). The time is a file-name-safe ISO time.
 */
export function quarantineFileOf(file: string, at: Date, pid: number): string {
  return `${file}${QUARANTINE_MARK}${at.toISOString().replace(/[:.]/g, '-')}-${pid}`;
}

/** Whether a base name is a quarantined copy (of `fileName` when given). */
export function isQuarantineName(name: string, fileName?: string): boolean {
  return fileName === undefined ? name.includes(QUARANTINE_MARK) : name.startsWith(`${fileName}${QUARANTINE_MARK}`);
}

/** Folders of a project where content files (and so their temp files) live, relative to it: the project folder itself, pages, globals. */
export const CONTENT_DIRS: readonly string[] = ['', PAGES_DIR, GLOBALS_DIR];

/** Every folder a project holds, relative to its folder (created with the project). */
export const PROJECT_SUBDIRS: readonly string[] = [...MEDIA_FOLDERS.map((f) => join(UPLOADS_DIR, f)), GLOBALS_DIR];

/** `pages/<pageId>.json`, relative to the project folder */
export function pageFileOf(pageId: string): string {
  return join(PAGES_DIR, `${pageId}.json`);
}

/** `pages/global/<type>.json`, relative to the project folder */
export function globalFileOf(type: string): string {
  return join(GLOBALS_DIR, `${type}.json`);
}

/** The served folder of a record's path: `/uploads/images`. */
export function servedFolderOf(folder: MediaFolder): string {
  return `/${UPLOADS_DIR}/${folder}`;
}

/** The served path a record stores: `/uploads/images/a.jpg`. */
export function servedPathOf(folder: MediaFolder, filename: string): string {
  return `${servedFolderOf(folder)}/${filename}`;
}

/**
 * A record's path in the form it is served and matched in: records are
 * stored with `/uploads/…`, and a legacy record without the slash names the
 * same file.
 */
export function servedFormOf(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/** The paths a record serves, its own then each variant's, in served form, each once. */
export function servedPathsOf(record: Pick<MediaRecord, 'path' | 'sizes'>): string[] {
  return [...new Set([record.path, ...Object.values(record.sizes).map((s) => s.path)].map(servedFormOf))];
}

/** `/uploads/images/a.jpg` (or without the leading slash) → { folder, filename }; undefined for anything else. */
export function folderOfPath(path: string): { folder: MediaFolder; filename: string } | undefined {
  const m = /^\/?uploads\/([a-z]+)\/([^/\\]+)$/.exec(path);
  const folder = m?.[1];
  const filename = m?.[2];
  if (!isMediaFolder(folder) || filename === undefined || !FILENAME_PATTERN.test(filename)) return undefined;
  return { folder, filename };
}
