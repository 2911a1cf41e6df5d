/**
 * The ids a project created without one is offered, in order, by every
 * backend: the name's slug, then `slug-2`, `slug-3`, … (the first free one
 * wins). "My Site!" → `my-site`; "Résumé" → `resume`.
 */
import { MAX_ID_LENGTH } from '../shared/ids.js';
import { PROJECT_ID_SLUG, slugify, withSuffix } from '../shared/slug.js';

/** How many ids are tried before PROJECT_EXISTS. */
const MAX_CANDIDATES = 999;

export function projectIdCandidates(name: string): string[] {
  const base = slugify(name, PROJECT_ID_SLUG);
  return Array.from({ length: MAX_CANDIDATES }, (_, i) => withSuffix(base, i === 0 ? 0 : i + 1, MAX_ID_LENGTH));
}
