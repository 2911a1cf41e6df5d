/**
 * One project as `mediastore migrate` / `export` carry it between the two
 * backends: its identity (the editor's UUID and folder, its projects.json
 * entry), its records exactly as stored (`usedIn` and unknown fields
 * included), and its saved content. Both directions read an image on one
 * side and compare it with (or write it to) the other; the fingerprint is
 * what "unchanged" means.
 */
import { createHash } from 'node:crypto';
import { GLOBAL_PREFIX, THEME_SOURCE, type MediaRecord, type UsageSource } from '../../shared/media-types.js';

export interface ProjectImage {
  /** the editor's UUID, or the folder name of a folder without a projects.json entry */
  id: string;
  folder: string;
  name: string;
  /** ISO time */
  createdAt: string;
  /** the project's projects.json entry, every field as the editor wrote it; null: the folder has none */
  registryEntry: Record<string, unknown> | null;
  /** in the library's order */
  records: MediaRecord[];
  /** source → the serialised content, sorted by source */
  content: Array<[UsageSource, string]>;
}

/**
 * sha256 of everything an image carries but its creation time (a folder
 * without an entry has only its birth time, which a copy of the folder
 * changes). Order matters where the stored form keeps it: records, their
 * keys, `usedIn` arrays.
 */
export function fingerprintOf(image: ProjectImage): string {
  const { id, folder, name, registryEntry, records, content } = image;
  return createHash('sha256').update(JSON.stringify({ id, folder, name, registryEntry, records, content })).digest('hex');
}

export interface ContentCounts {
  pages: number;
  globals: number;
  theme: number;
}

export function contentCountsOf(image: ProjectImage): ContentCounts {
  const counts: ContentCounts = { pages: 0, globals: 0, theme: 0 };
  for (const [source] of image.content) {
    if (source === THEME_SOURCE) counts.theme++;
    else if (source.startsWith(GLOBAL_PREFIX)) counts.globals++;
    else counts.pages++;
  }
  return counts;
}

/** Ids of the records whose `usedIn` names `source`, in library order. */
export function idsMarkedBy(records: readonly MediaRecord[], source: UsageSource): string[] {
  return records.filter((r) => r.usedIn?.includes(source)).map((r) => r.id);
}
