/**
 * The fixed catalogue of media files the model tests draw from. Records and
 * content refer to the same few slots, so a generated page often uses a file
 * that exists, sometimes one that was deleted or not uploaded yet, and a
 * generated upload sometimes collides with a file already there.
 */

export type Folder = 'images' | 'videos' | 'audios' | 'files';

export interface MediaSlot {
  folder: Folder;
  /** stored name, e.g. `hero.jpg` */
  filename: string;
  type: string;
  /** raster images have a width, height and (maybe) size variants */
  raster: boolean;
  /** size-variant labels (`thumb`, …) a record of this slot carries */
  variants: readonly string[];
}

export const VARIANT_WIDTHS: Readonly<Record<string, number>> = { thumb: 150, small: 480, medium: 1024, large: 1920 };

export const SLOTS: readonly MediaSlot[] = [
  { folder: 'images', filename: 'hero.jpg', type: 'image/jpeg', raster: true, variants: ['thumb', 'small', 'medium'] },
  { folder: 'images', filename: 'logo.png', type: 'image/png', raster: true, variants: ['thumb'] },
  { folder: 'images', filename: 'icon.svg', type: 'image/svg+xml', raster: false, variants: [] },
  // The editor kept every non-video, non-audio file in images/ (EDITOR-FORMAT.md).
  { folder: 'images', filename: 'brochure.pdf', type: 'application/pdf', raster: false, variants: [] },
  { folder: 'videos', filename: 'intro.mp4', type: 'video/mp4', raster: false, variants: [] },
  { folder: 'audios', filename: 'jingle.mp3', type: 'audio/mpeg', raster: false, variants: [] },
  { folder: 'files', filename: 'spec.pdf', type: 'application/pdf', raster: false, variants: [] },
  { folder: 'images', filename: 'team.webp', type: 'image/webp', raster: true, variants: ['thumb', 'small'] },
];

export function slotPath(slot: MediaSlot): string {
  return `/uploads/${slot.folder}/${slot.filename}`;
}

/** `hero.jpg` + `thumb` → `hero-thumb.jpg`, beside the original (as the editor names variants). */
export function variantFilename(slot: MediaSlot, label: string): string {
  const dot = slot.filename.lastIndexOf('.');
  return `${slot.filename.slice(0, dot)}-${label}${slot.filename.slice(dot)}`;
}

export function variantPath(slot: MediaSlot, label: string): string {
  return `/uploads/${slot.folder}/${variantFilename(slot, label)}`;
}
