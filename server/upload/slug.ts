/**
 * Stored file names: the client's base name as a slug (the one rule,
 * shared/slug.ts; at most 100 characters) plus the extension of the detected
 * type. Slugs never contain `.`, so an original (`photo.jpg`, `photo-1.jpg`)
 * can never be confused with a size variant (`photo.thumb.jpg`).
 */
import { FILE_NAME_SLUG, slugify, withSuffix } from '../../shared/slug.js';

/** `Café Photo (1).JPG` → `cafe-photo-1`; empty results become `file`. */
export function storedNameSlug(originalName: string): string {
  return slugify(stripExtension(baseName(originalName)), FILE_NAME_SLUG);
}

/** The slug with a collision suffix, still within the length limit: (`photo`, 2) → `photo-2`. */
export function storedNameCandidate(slug: string, n: number): string {
  return withSuffix(slug, n, FILE_NAME_SLUG.maxLength);
}

/** The last path segment (some browsers send `C:\fakepath\name.jpg`). */
export function baseName(name: string): string {
  const parts = name.split(/[/\\]/);
  return parts[parts.length - 1] ?? '';
}

export function extensionOf(name: string): string {
  const base = baseName(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

function stripExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}
