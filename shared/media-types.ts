/** Domain types of a project's media library, as stored in `uploads/media.json`. */

export type MediaFolder = 'images' | 'videos' | 'audios' | 'files';

/** The editor's metadata form: `alt`, `title` for images; `title`, `description` for video and audio. */
export interface MediaMetadata {
  alt?: string;
  title?: string;
  caption?: string;
  description?: string;
  /** fields a later editor adds are kept as they are */
  [other: string]: unknown;
}

/**
 * One size variant of a raster image (thumb, small, medium, large, or a
 * theme's own name). The editor writes `{ path, width, height }` only;
 * mediastore's own variants also carry `filename` and `size` (the editor
 * ignores unknown keys, and they let the doctor and the tests check the
 * binaries without parsing paths).
 */
export interface MediaSizeVariant {
  /** `/uploads/images/<variant filename>` */
  path: string;
  /** always written by the editor and by mediastore */
  width?: number;
  height?: number;
  filename?: string;
  size?: number;
}

/**
 * A record of media.json as the editor writes it (EDITOR-FORMAT.md) and as
 * mediastore opens it: the fields mediastore reads are required (the editor
 * always writes them); the ones it only passes through are optional, and so
 * are the ones the editor leaves out (width/height, thumbnail, usedIn).
 * Unknown fields are kept as they are.
 */
export interface MediaRecord {
  /** uuid */
  id: string;
  /** stored name, unique within its folder */
  filename: string;
  /** the client's file name */
  originalName?: string;
  /** MIME type (the editor: from the browser; mediastore: detected from the bytes) */
  type: string;
  /** bytes of the original */
  size?: number;
  /** ISO time */
  uploaded?: string;
  /** `/uploads/<folder>/<filename>` */
  path: string;
  metadata: MediaMetadata;
  /** raster images only: the editor writes no width/height keys for SVG, video, audio or other files */
  width?: number | null;
  height?: number | null;
  /** `{}` unless variants were made; the editor's variants are `{ path, width, height }` */
  sizes: Record<string, MediaSizeVariant>;
  /** videos: the editor writes `null` (no poster is generated) */
  thumbnail?: string | null;
  /**
   * usage sources (page ids, `global:<type>`), each at most once. Absent
   * means used nowhere (`[]`): the editor writes the key only once its usage
   * code first touches the record, and mediastore does the same — a record
   * whose usage never changed keeps no key. Records are answered as stored
   * (list, get, add); `usage()` always answers an array. Read it with
   * `usedInOf(record)`.
   */
  usedIn?: string[];
}

/** The usage of a record: absent `usedIn` is `[]`. */
export function usedInOf(record: Pick<MediaRecord, 'usedIn'>): readonly string[] {
  return record.usedIn ?? NO_USAGE;
}

const NO_USAGE: readonly string[] = Object.freeze([]);

export interface MediaDocument {
  files: MediaRecord[];
}

/**
 * A record as handed to `addMedia`: what mediastore's upload writes always
 * has the editor's fields. The worker owns `usedIn` (a new record has no
 * key: used nowhere).
 */
export type NewMediaRecord = Omit<MediaRecord, 'usedIn'> &
  Required<Pick<MediaRecord, 'originalName' | 'size' | 'uploaded'>>;

/** The metadata fields mediastore edits (which ones a file keeps depends on its type). */
export type MetadataField = 'alt' | 'title' | 'caption' | 'description';

export type MetadataPatch = Partial<Record<MetadataField, string>>;

/**
 * Which metadata fields a kind of file keeps (others in a patch are ignored).
 * The editor's rule: video and audio have `title`, `description`; images and
 * every other file (a PDF sits with the images) have `alt`, `title` — plus
 * mediastore's `caption`.
 */
export function metadataFieldsFor(type: string): MetadataField[] {
  return isTimedMedia(type) ? ['title', 'description'] : ['alt', 'title', 'caption'];
}

/** The longest metadata value kept; a longer one is cut. */
export const MAX_METADATA_LENGTH = 5000;

/**
 * Writes a patch into `metadata` (which the caller owns): only the fields
 * the file's type keeps, each cut to MAX_METADATA_LENGTH; the others in the
 * patch are ignored, every other key of the record is kept.
 */
export function applyMetadataPatch(metadata: MediaMetadata, type: string, patch: MetadataPatch): void {
  for (const field of metadataFieldsFor(type)) {
    const value = patch[field];
    if (value !== undefined) metadata[field] = value.slice(0, MAX_METADATA_LENGTH);
  }
}

/**
 * The metadata a new record starts with: the editor's own keys for its
 * kind, empty (EDITOR-FORMAT.md; `caption` is mediastore's and is added
 * only when set).
 */
export function initialMetadataFor(type: string): MediaMetadata {
  return isTimedMedia(type) ? { title: '', description: '' } : { alt: '', title: '' };
}

/** Video and audio: the files whose metadata is a title and a description. */
function isTimedMedia(type: string): boolean {
  return type.startsWith('video/') || type.startsWith('audio/');
}

/**
 * A usage source: a page id (`home`), a global widget (`global:header`,
 * `global:footer`) or the theme settings (`global:theme-settings`).
 */
export type UsageSource = string;

export const THEME_SOURCE: UsageSource = 'global:theme-settings';
export const GLOBAL_PREFIX = 'global:';

/** `header` → `global:header`; an already prefixed type is not prefixed twice. */
export function globalSource(type: string): UsageSource {
  return type.startsWith(GLOBAL_PREFIX) ? type : `${GLOBAL_PREFIX}${type}`;
}

export interface ProjectInfo {
  /** what URLs carry: the editor's UUID from projects.json, or the folder name of an unregistered folder */
  id: string;
  /** the project's folder under `<dataDir>/projects/` (the editor's `folderName`) */
  folder: string;
  name: string;
  createdAt: string;
}

export interface DeleteMediaResult {
  /** the removed records: their binaries may now be removed by the caller */
  deleted: MediaRecord[];
  /** skipped and kept because a source uses them (checked inside the same commit) */
  inUse: Array<{ id: string; filename: string; usedIn: string[] }>;
  notFound: string[];
}

export interface SaveContentResult {
  source: UsageSource;
  /** every media path found in the content (deduplicated, in order of appearance) */
  mediaPaths: string[];
  /** ids of the media files those paths matched */
  fileIds: string[];
}

export interface UsageInfo {
  fileId: string;
  filename: string;
  usedIn: string[];
  isInUse: boolean;
}

export interface RefreshUsageResult {
  sources: number;
  filesInUse: number;
}
