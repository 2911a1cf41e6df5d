/** Domain types of a project's media library, as stored in `uploads/media.json`. */

export type MediaFolder = 'images' | 'videos' | 'audios' | 'files';

export interface MediaMetadata {
  alt?: string;
  title?: string;
  caption?: string;
  description?: string;
}

/** One generated size variant of a raster image (thumb, small, medium, large). */
export interface MediaSizeVariant {
  /** `/uploads/images/<variant filename>` */
  path: string;
  filename: string;
  width: number;
  height: number;
  size: number;
}

export interface MediaRecord {
  /** uuid */
  id: string;
  /** stored name, unique within its folder */
  filename: string;
  /** the client's file name */
  originalName: string;
  /** MIME type detected from the bytes */
  type: string;
  /** bytes of the original */
  size: number;
  /** ISO time */
  uploaded: string;
  /** `/uploads/<folder>/<filename>` */
  path: string;
  metadata: MediaMetadata;
  width: number | null;
  height: number | null;
  sizes: Record<string, MediaSizeVariant>;
  /** usage sources (page ids, `global:<type>`), each at most once */
  usedIn: string[];
}

export interface MediaDocument {
  files: MediaRecord[];
}

/** A record as handed to `addMedia`: the worker owns `usedIn` (always starts empty). */
export type NewMediaRecord = Omit<MediaRecord, 'usedIn'>;

export type MetadataPatch = Partial<Record<keyof MediaMetadata, string>>;

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
  id: string;
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
