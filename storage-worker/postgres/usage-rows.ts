/**
 * Usage as rows: `usage(project_id, source, media_id)`. These run inside a
 * write transaction that holds the project's row, so what they read is
 * what they change.
 */
import type { Queryable } from './database.js';

/**
 * Makes `source` mark exactly the files these media paths name, and returns
 * their ids in the order of the paths, each once; unknown paths are ignored
 * (document-draft.ts `matchPaths`). Rows that stay keep their place; new
 * ones go last, so each file's `usedIn` keeps the order in which sources
 * first marked it. A file marked for the first time gains its `usedIn` key
 * for good.
 *
 * One statement, one round trip: inside a group commit's batch the
 * operations of a project run one after another, so each round trip an
 * operation makes is paid by every caller queued behind it. The parts of a
 * statement see one snapshot: the rows that stay are neither deleted nor
 * inserted again, so they do not meet.
 */
export async function replaceSourceUsage(q: Queryable, projectId: string, source: string, paths: readonly string[]): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `WITH wanted AS MATERIALIZED (
       SELECT DISTINCT ON (p.media_id) p.media_id AS id, t.n
         FROM unnest($3::text[]) WITH ORDINALITY AS t(path, n)
         JOIN media_paths p ON p.project_id = $1 AND p.path = t.path
        ORDER BY p.media_id, t.n
     ), dropped AS (
       DELETE FROM usage u
        WHERE u.project_id = $1 AND u.source = $2 AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.id = u.media_id)
     ), added AS (
       INSERT INTO usage (project_id, source, media_id)
       SELECT $1, $2, w.id FROM wanted w ORDER BY w.n
       ON CONFLICT DO NOTHING
       RETURNING media_id
     ), keyed AS (
       UPDATE media m SET used_in_key = true
        WHERE m.project_id = $1 AND NOT m.used_in_key AND m.id IN (SELECT a.media_id FROM added a)
     )
     SELECT id FROM wanted ORDER BY n`,
    [projectId, source, paths],
  );
  return rows.map((r) => r.id);
}

/** Every source that marks at least one file. */
export async function markingSources(q: Queryable, projectId: string): Promise<string[]> {
  const { rows } = await q.query<{ source: string }>('SELECT DISTINCT source FROM usage WHERE project_id = $1', [projectId]);
  return rows.map((r) => r.source);
}
