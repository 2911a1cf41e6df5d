/**
 * "My Site!" → "my-site": the id a project named so gets when none is
 * given. The same rule as the file backend's (storage-service.ts `slugify`,
 * private there); when the split of that file exports it, this copy goes.
 */
export function projectIdSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56);
  return slug || 'project';
}

/** The ids tried in order for a name: `slug`, `slug-2`, … (the file backend's sequence). */
export function projectIdCandidates(name: string): string[] {
  const base = projectIdSlug(name);
  return Array.from({ length: 999 }, (_, i) => (i === 0 ? base : `${base.slice(0, 60)}-${i + 1}`));
}
