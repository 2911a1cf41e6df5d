/**
 * Usage as rows: `usage(project_id, source, media_id)`. These run inside a
 * write transaction that holds the project's row, so what they read is
 * what they change.
 */
import type { Queryable } from './database.js';

/**
 * Ids of the files these media paths name, in the order of the paths,
 * each once; unknown paths are ignored (document-draft.ts `matchPaths`).
 */
export async function matchPaths(q: Queryable, projectId: string, paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const { rows } = await q.query<{ path: string; media_id: string }>(
    'SELECT path, media_id FROM media_paths WHERE project_id = $1 AND path = ANY($2::text[])',
    [projectId, paths],
  );
  const owner = new Map(rows.map((r) => [r.path, r.media_id]));
  const out = new Set<string>();
  for (const path of paths) {
    const id = owner.get(path);
    if (id !== undefined) out.add(id);
  }
  return [...out];
}

/**
 * Makes `source` mark exactly `ids` (existing files). Rows that stay keep
 * their place; new ones go last, so each file's `usedIn` keeps the order
 * in which sources first marked it. A file marked for the first time gains
 * its `usedIn` key for good.
 */
export async function setSourceUsage(q: Queryable, projectId: string, source: string, ids: readonly string[]): Promise<void> {
  await q.query('DELETE FROM usage WHERE project_id = $1 AND source = $2 AND NOT (media_id = ANY($3::text[]))', [projectId, source, ids]);
  if (ids.length === 0) return;
  const { rows } = await q.query<{ media_id: string }>(
    `INSERT INTO usage (project_id, source, media_id)
     SELECT $1, $2, t.id FROM unnest($3::text[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n
     ON CONFLICT DO NOTHING
     RETURNING media_id`,
    [projectId, source, ids],
  );
  if (rows.length === 0) return;
  await q.query('UPDATE media SET used_in_key = true WHERE project_id = $1 AND id = ANY($2::text[]) AND NOT used_in_key', [
    projectId,
    rows.map((r) => r.media_id),
  ]);
}

/** Every source that marks at least one file. */
export async function markingSources(q: Queryable, projectId: string): Promise<string[]> {
  const { rows } = await q.query<{ source: string }>('SELECT DISTINCT source FROM usage WHERE project_id = $1', [projectId]);
  return rows.map((r) => r.source);
}
