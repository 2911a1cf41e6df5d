/**
 * Stored file names: the client's base name as a slug (lowercase ASCII
 * letters, digits, `-`; at most 100 characters) plus the extension of the
 * detected type. Slugs never contain `.`, so an original (`photo.jpg`,
 * `photo-1.jpg`) can never be confused with a size variant
 * (`photo.thumb.jpg`).
 */

export const MAX_SLUG_LENGTH = 100;

/** `Café Photo (1).JPG` → `cafe-photo-1`; empty results become `file`. */
export function slugify(originalName: string): string {
  const base = stripExtension(baseName(originalName));
  const slug = base
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return trimTo(slug, MAX_SLUG_LENGTH) || 'file';
}

/** The slug with a collision suffix, still within the length limit: (`photo`, 2) → `photo-2`. */
export function withSuffix(slug: string, n: number): string {
  if (n === 0) return slug;
  const suffix = `-${n}`;
  return `${trimTo(slug, MAX_SLUG_LENGTH - suffix.length) || 'file'}${suffix}`;
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

function trimTo(slug: string, max: number): string {
  return slug.slice(0, max).replace(/-+$/, '');
}
