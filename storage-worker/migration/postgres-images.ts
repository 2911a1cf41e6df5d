/**
 * Project images in PostgreSQL, inside a transaction the caller holds:
 * read one, replace one whole (records with their `usedIn` as stored, the
 * editor's projects.json entry, content), and the fingerprint of the files
 * a project was last migrated from.
 *
 * Written in SQL rather than through PostgresLibrary: the seam cannot carry
 * a record whole (addMedia takes new records, which have no `usedIn`; usage
 * comes only from content or setUsage, which would recompute or reorder the
 * editor's marks). The rows are the library's own (media-rows.ts), so the
 * backend answers exactly the records written here.
 */
import type { MediaRecord, UsageSource } from '../../shared/media-types.js';
import type { Queryable } from '../postgres/database.js';
import { servedPathsOf } from '../../shared/project-paths.js';
import { answerOf, selectMedia, storedRecordText } from '../postgres/media-rows.js';
import type { ProjectImage } from './project-image.js';

interface ProjectRow {
  id: string;
  folder: string;
  name: string;
  created_at: Date;
  registry_entry: Record<string, unknown> | null;
}

/** The project's image, locking its row when `forUpdate`; null if the id is not a project. */
export async function readPostgresImage(q: Queryable, projectId: string, forUpdate: boolean): Promise<ProjectImage | null> {
  const { rows } = await q.query<ProjectRow>(`SELECT * FROM projects WHERE id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [projectId]);
  const row = rows[0];
  if (!row) return null;
  const records = (await selectMedia(q, projectId)).map(answerOf);
  const content = await q.query<{ source: UsageSource; body: string }>('SELECT source, body FROM content WHERE project_id = $1', [projectId]);
  return {
    id: row.id,
    folder: row.folder,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    registryEntry: row.registry_entry,
    records,
    // sorted in JS: the files side sorts the same way (code points, not the database's collation)
    content: content.rows.map((r): [UsageSource, string] => [r.source, r.body]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

/**
 * Another project using `folder`, or with `folder` as its id (the backend
 * resolves an id before a folder, so the folder would open that project), if any.
 */
export async function folderTakenBy(q: Queryable, projectId: string, folder: string): Promise<string | null> {
  const { rows } = await q.query<{ id: string }>('SELECT id FROM projects WHERE id <> $1 AND (folder = $2 OR id = $2) LIMIT 1', [projectId, folder]);
  return rows[0]?.id ?? null;
}

/**
 * Why PostgreSQL cannot hold these records exactly, or null. Two records
 * serving one path (`uploads/a.png` and `/uploads/a.png` included: the
 * backend claims served paths once per project), or a source named twice in
 * one `usedIn` (one usage row per source and file), would come back changed.
 */
export function whyNotStorable(records: readonly MediaRecord[]): string | null {
  const owner = new Map<string, string>();
  for (const rec of records) {
    for (const path of servedPathsOf(rec)) {
      const other = owner.get(path);
      if (other !== undefined && other !== rec.id) return `records ${other} and ${rec.id} both serve ${path}`;
      owner.set(path, rec.id);
    }
    const sources = rec.usedIn ?? [];
    if (new Set(sources).size !== sources.length) return `record ${rec.id} names a source twice in usedIn`;
  }
  return null;
}

/**
 * Makes the project exactly `image`: the row (inserted, or updated with
 * `existing`), then every record, path, usage row and content row replaced.
 * Usage rows go in record by record, each record's sources in its `usedIn`
 * order: `seq` orders each file's sources, so every `usedIn` comes back as
 * it was.
 */
export async function writePostgresImage(q: Queryable, image: ProjectImage, existing: boolean): Promise<void> {
  const { id } = image;
  if (existing) {
    await q.query('UPDATE projects SET folder = $2, name = $3, registry_entry = $4::json WHERE id = $1', [id, image.folder, image.name, entryText(image)]);
    // Paths and usage go with the media rows (ON DELETE CASCADE).
    await q.query('DELETE FROM media WHERE project_id = $1', [id]);
    await q.query('DELETE FROM content WHERE project_id = $1', [id]);
  } else {
    await q.query('INSERT INTO projects (id, folder, name, created_at, registry_entry) VALUES ($1, $2, $3, $4, $5::json)', [
      id,
      image.folder,
      image.name,
      new Date(image.createdAt),
      entryText(image),
    ]);
  }
  const records = image.records;
  if (records.length > 0) {
    await q.query(
      `INSERT INTO media (project_id, id, position, record, used_in_key, path, type, uploaded)
       SELECT $1, t.id, t.n, t.record::json, t.key, t.path, t.type, t.uploaded
         FROM unnest($2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS t(id, record, key, path, type, uploaded, n)`,
      [
        id,
        records.map((r) => r.id),
        records.map(storedRecordText),
        records.map((r) => Array.isArray(r.usedIn)),
        records.map((r) => r.path),
        records.map((r) => r.type),
        records.map((r) => (typeof r.uploaded === 'string' ? r.uploaded : null)),
      ],
    );
    const claims = records.flatMap((r) => servedPathsOf(r).map((p) => [p, r.id] as const));
    await q.query('INSERT INTO media_paths (project_id, path, media_id) SELECT $1, t.path, t.id FROM unnest($2::text[], $3::text[]) AS t(path, id)', [
      id,
      claims.map((c) => c[0]),
      claims.map((c) => c[1]),
    ]);
    const marks = records.flatMap((r) => (r.usedIn ?? []).map((source) => [source, r.id] as const));
    if (marks.length > 0) {
      await q.query(
        `INSERT INTO usage (project_id, source, media_id)
         SELECT $1, t.source, t.id FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(source, id, n) ORDER BY t.n`,
        [id, marks.map((m) => m[0]), marks.map((m) => m[1])],
      );
    }
  }
  if (image.content.length > 0) {
    await q.query('INSERT INTO content (project_id, source, body) SELECT $1, t.source, t.body FROM unnest($2::text[], $3::text[]) AS t(source, body)', [
      id,
      image.content.map((c) => c[0]),
      image.content.map((c) => c[1]),
    ]);
  }
}

function entryText(image: ProjectImage): string | null {
  return image.registryEntry === null ? null : JSON.stringify(image.registryEntry);
}

export async function migratedFingerprint(q: Queryable, projectId: string): Promise<string | null> {
  const { rows } = await q.query<{ fingerprint: string }>('SELECT fingerprint FROM file_migrations WHERE project_id = $1', [projectId]);
  return rows[0]?.fingerprint ?? null;
}

export async function recordMigration(q: Queryable, projectId: string, fingerprint: string): Promise<void> {
  await q.query(
    `INSERT INTO file_migrations (project_id, fingerprint, migrated_at) VALUES ($1, $2, now())
     ON CONFLICT (project_id) DO UPDATE SET fingerprint = excluded.fingerprint, migrated_at = excluded.migrated_at`,
    [projectId, fingerprint],
  );
}
