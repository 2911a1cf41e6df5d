/**
 * A media record between its answer form and its rows: the record is stored
 * whole without `usedIn` (usage rows hold the sources), its served paths are
 * claimed in `media_paths`, and an answer puts `usedIn` back — only on a
 * record usage has touched, as the file backend keeps the key.
 */
import type { MediaRecord, NewMediaRecord } from '../../shared/media-types.js';
import type { Queryable } from './database.js';

/**
 * The JSON text stored for a record: everything but the sources in `usedIn`.
 * A record that has the key keeps it, empty, where it stands: an answer
 * overwrites it in place, so the editor's key order (`usedIn` before a later
 * version's fields) survives a trip through the database.
 */
export function storedRecordText(record: NewMediaRecord | MediaRecord): string {
  return JSON.stringify('usedIn' in record ? { ...record, usedIn: [] } : record);
}

export interface MediaRow {
  id: string;
  record: MediaRecord;
  used_in_key: boolean;
  used_in: string[];
}

/** The record as answered: `usedIn` from the usage rows, present once usage has touched it. */
export function answerOf(row: MediaRow): MediaRecord {
  return row.used_in_key ? { ...row.record, usedIn: row.used_in } : row.record;
}

/** Records with their usage (sources in the order they were first marked), in the library's order. */
export async function selectMedia(q: Queryable, projectId: string, ids?: readonly string[]): Promise<MediaRow[]> {
  const filter = ids ? 'AND m.id = ANY($2::text[])' : '';
  const { rows } = await q.query<MediaRow>(
    `SELECT m.id, m.record, m.used_in_key,
            ARRAY(SELECT u.source FROM usage u
                  WHERE u.project_id = m.project_id AND u.media_id = m.id ORDER BY u.seq) AS used_in
       FROM media m
      WHERE m.project_id = $1 ${filter}
      ORDER BY m.position`,
    ids ? [projectId, ids] : [projectId],
  );
  return rows;
}
