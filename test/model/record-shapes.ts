/**
 * Media records of a slot in the two shapes a library holds: as mediastore's
 * upload writes them (NewMediaRecord, full size variants) and as the editor
 * wrote them before mediastore (EDITOR-FORMAT.md: variants `{path,width,height}`
 * only, no width/height keys on non-raster files, `thumbnail: null` on
 * videos, `usedIn` absent until first used, unknown later fields).
 */
import { VARIANT_WIDTHS, slotPath, variantFilename, variantPath, type MediaSlot } from './media-slots.js';

const UPLOADED = '2026-02-03T09:15:00.000Z';

function baseName(slot: MediaSlot): string {
  return slot.filename.slice(0, slot.filename.lastIndexOf('.'));
}

function isImage(slot: MediaSlot): boolean {
  return slot.type.startsWith('image/');
}

/** What mediastore's addMedia receives for an upload of this slot. */
export function mediastoreRecord(slot: MediaSlot, id: string): Record<string, unknown> & { id: string } {
  const sizes: Record<string, unknown> = {};
  for (const label of slot.variants) {
    const width = VARIANT_WIDTHS[label] ?? 300;
    sizes[label] = { path: variantPath(slot, label), filename: variantFilename(slot, label), width, height: Math.round(width * 0.75), size: width * 30 };
  }
  return {
    id,
    filename: slot.filename,
    originalName: slot.filename.toUpperCase(),
    type: slot.type,
    size: 40_000 + slot.filename.length,
    uploaded: UPLOADED,
    path: slotPath(slot),
    metadata: isImage(slot) ? { alt: '', title: baseName(slot) } : { title: baseName(slot), description: '' },
    width: slot.raster ? 2400 : null,
    height: slot.raster ? 1800 : null,
    sizes,
  };
}

export interface EditorRecordOptions {
  /** the record was touched by the editor's usage code (else `usedIn` is absent) */
  usedIn: string[] | null;
  /** a field a later editor version added */
  extraField: boolean;
}

/** A record exactly as the editor's upload code wrote it. */
export function editorRecord(slot: MediaSlot, id: string, options: EditorRecordOptions): Record<string, unknown> & { id: string } {
  const sizes: Record<string, unknown> = {};
  for (const label of slot.variants) {
    const width = VARIANT_WIDTHS[label] ?? 300;
    sizes[label] = { path: variantPath(slot, label), width, height: Math.round(width * 0.75) };
  }
  const rec: Record<string, unknown> & { id: string } = {
    id,
    filename: slot.filename,
    originalName: slot.filename,
    type: slot.type,
    size: 52_000 + slot.filename.length,
    uploaded: UPLOADED,
    path: slotPath(slot),
    metadata: slot.folder === 'videos' || slot.folder === 'audios' ? { title: '', description: '' } : { alt: '', title: '' },
  };
  if (slot.raster) {
    rec.width = 2400;
    rec.height = 1800;
  }
  rec.sizes = sizes;
  if (slot.folder === 'videos') rec.thumbnail = null;
  if (options.usedIn !== null) rec.usedIn = options.usedIn;
  if (options.extraField) rec.focalPoint = { x: 0.5, y: 0.4 };
  return rec;
}
