/**
 * The media types the library accepts, decided from the bytes. Each maps to
 * a kind (which sets the size cap), an upload folder and the extension the
 * stored name gets.
 */
import type { MediaFolder } from '../../shared/media-types.js';
import type { UploadLimits } from '../config.js';

export type MediaKind = keyof UploadLimits;

export interface AcceptedType {
  mime: string;
  kind: MediaKind;
  folder: MediaFolder;
  /** extension of stored names */
  ext: string;
  /** client extensions that agree with this type (the first is `ext`) */
  extensions: readonly string[];
  /** decoded by the image library: dimensions and size variants */
  raster: boolean;
  label: string;
}

export const ACCEPTED_TYPES: readonly AcceptedType[] = [
  { mime: 'image/jpeg', kind: 'image', folder: 'images', ext: 'jpg', extensions: ['jpg', 'jpeg', 'jpe', 'jfif'], raster: true, label: 'JPEG' },
  { mime: 'image/png', kind: 'image', folder: 'images', ext: 'png', extensions: ['png'], raster: true, label: 'PNG' },
  { mime: 'image/gif', kind: 'image', folder: 'images', ext: 'gif', extensions: ['gif'], raster: true, label: 'GIF' },
  { mime: 'image/webp', kind: 'image', folder: 'images', ext: 'webp', extensions: ['webp'], raster: true, label: 'WebP' },
  { mime: 'image/svg+xml', kind: 'image', folder: 'images', ext: 'svg', extensions: ['svg'], raster: false, label: 'SVG' },
  { mime: 'video/mp4', kind: 'video', folder: 'videos', ext: 'mp4', extensions: ['mp4', 'm4v'], raster: false, label: 'MP4' },
  { mime: 'audio/mpeg', kind: 'audio', folder: 'audios', ext: 'mp3', extensions: ['mp3', 'mpga'], raster: false, label: 'MP3' },
  { mime: 'application/pdf', kind: 'pdf', folder: 'images', ext: 'pdf', extensions: ['pdf'], raster: false, label: 'PDF' },
];

export const SVG_TYPE: AcceptedType = ACCEPTED_TYPES.find((t) => t.mime === 'image/svg+xml')!;

export function acceptedByMime(mime: string): AcceptedType | undefined {
  return ACCEPTED_TYPES.find((t) => t.mime === mime);
}

/** The accepted type a client extension claims, if any (`.JPG` → JPEG). */
export function acceptedByExtension(ext: string): AcceptedType | undefined {
  const e = ext.toLowerCase();
  return ACCEPTED_TYPES.find((t) => t.extensions.includes(e));
}

export const ACCEPTED_LABELS = ACCEPTED_TYPES.map((t) => t.label).join(', ');

/** Content-Type for serving a stored name; unknown extensions are served as opaque bytes. */
export function contentTypeForName(filename: string): string {
  const dot = filename.lastIndexOf('.');
  const type = dot >= 0 ? acceptedByExtension(filename.slice(dot + 1)) : undefined;
  return type?.mime ?? 'application/octet-stream';
}
