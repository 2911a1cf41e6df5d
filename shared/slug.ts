/**
 * The one slug rule, for stored upload names and for project ids derived
 * from a name: NFKD, then the combining marks dropped (so "Résumé" is
 * `resume`, not `re-sume`), lowercase, every run of anything but `a-z0-9`
 * one `-`, no `-` at either end, cut to a maximum length (and no `-` left
 * at the cut). A slug never holds `.`, so an original (`photo.jpg`) can never
 * be confused with a size variant (`photo.thumb.jpg`), and it always matches
 * ID_PATTERN when its limit is at most MAX_ID_LENGTH.
 */

export interface SlugRule {
  /** the longest slug */
  maxLength: number;
  /** what an empty slug becomes (a name of only punctuation or symbols) */
  fallback: string;
}

/** Stored upload names (before the extension): `Café Photo (1)` → `cafe-photo-1`. */
export const FILE_NAME_SLUG: SlugRule = { maxLength: 100, fallback: 'file' };

/** Project ids made from a name: short enough that a `-999` suffix still fits MAX_ID_LENGTH. */
export const PROJECT_ID_SLUG: SlugRule = { maxLength: 56, fallback: 'project' };

export function slugify(text: string, rule: SlugRule): string {
  const slug = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return trimTo(slug, rule.maxLength) || rule.fallback;
}

/**
 * The n-th candidate when a slug is taken, within `maxLength`:
 * (`photo`, 0) → `photo`, (`photo`, 2) → `photo-2`.
 */
export function withSuffix(slug: string, n: number, maxLength: number): string {
  if (n === 0) return slug;
  const suffix = `-${n}`;
  return `${trimTo(slug, maxLength - suffix.length)}${suffix}`;
}

function trimTo(slug: string, max: number): string {
  return slug.slice(0, max).replace(/-+$/, '');
}
