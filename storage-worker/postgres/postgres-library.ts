/**
 * One project's media library in PostgreSQL. A write runs in a transaction
 * that first locks its project's row (`SELECT … FOR UPDATE`), shared with
 * the writes of this process queued with it (group-commit.ts, each under
 * its own savepoint): writers of one project — in this process or any
 * other server on the same database — run one after another, exactly like
 * the file backend's commits under media.json.lock, so every check an
 * operation makes (duplicate ids and paths, the in-use check of
 * deleteMedia, the usage it replaces) still holds when it commits. Each
 * read is one transaction and takes no lock: it sees one committed snapshot.
 *
 * The operations' semantics are the file backend's (media-operations.ts,
 * document-draft.ts); comments say where a detail comes from.
 */
import { StorageError } from '../../shared/errors.js';
import {
  applyMetadataPatch,
  type DeleteMediaResult,
  type MediaDocument,
  type MediaRecord,
  type MetadataPatch,
  type NewMediaRecord,
  type RefreshUsageResult,
  type SaveContentResult,
  type UsageSource,
} from '../../shared/media-types.js';
import type { MediaLibrary } from '../library-backend.js';
import { extractMediaPaths } from '../usage-extraction.js';
import type { Database, Queryable } from './database.js';
import { servedFormOf, servedPathsOf } from '../../shared/project-paths.js';
import { answerOf, selectMedia, storedRecordText } from './media-rows.js';
import { markingSources, replaceSourceUsage } from './usage-rows.js';
import type { ProjectGroupCommit } from './group-commit.js';
import { requireProjectRow } from './project-row.js';

export class PostgresLibrary implements MediaLibrary {
  constructor(
    private readonly db: Database,
    private readonly groupCommit: ProjectGroupCommit,
    readonly projectId: string,
  ) {}

  // --- reads: one snapshot each ----------------------------------------------

  async read(): Promise<{ doc: MediaDocument; json: Uint8Array }> {
    const doc = await this.reading(async (q) => ({ files: (await selectMedia(q, this.projectId)).map(answerOf) }));
    // Compact JSON: the bytes exist only to be sent; nobody diffs them on disk.
    return { doc, json: Buffer.from(JSON.stringify(doc), 'utf8') };
  }

  async getMedia(fileId: string): Promise<MediaRecord> {
    return this.reading(async (q) => answerOf(await this.oneRecord(q, fileId)));
  }

  async readContent(source: UsageSource): Promise<unknown> {
    const body = await this.reading(async (q) => {
      const { rows } = await q.query<{ body: string }>('SELECT body FROM content WHERE project_id = $1 AND source = $2', [this.projectId, source]);
      return rows[0]?.body;
    });
    return body === undefined ? undefined : JSON.parse(body);
  }

  async contentSources(): Promise<UsageSource[]> {
    return this.reading(async (q) => {
      const { rows } = await q.query<{ source: string }>('SELECT source FROM content WHERE project_id = $1 ORDER BY source', [this.projectId]);
      return rows.map((r) => r.source);
    });
  }

  // --- writes: in call order, batched into transactions that hold the project's row

  /** Refuses duplicate ids or paths (in the library or within `records`) with INVALID_INPUT, adding nothing. */
  async addMedia(records: NewMediaRecord[]): Promise<MediaRecord[]> {
    return this.writing(async (q) => {
      const allPaths = records.flatMap((r) => [r.path, ...Object.values(r.sizes).map((s) => s.path)]).map(servedFormOf);
      const existingIds = await this.column(q, 'SELECT id AS v FROM media WHERE project_id = $1 AND id = ANY($2::text[])', records.map((r) => r.id));
      const takenPaths = await this.column(q, 'SELECT path AS v FROM media_paths WHERE project_id = $1 AND path = ANY($2::text[])', allPaths);
      // The checks in media-operations.ts addMedia's order, so the same input meets the same refusal.
      const ids = new Set<string>();
      const paths = new Set<string>();
      for (const rec of records) {
        if (existingIds.has(rec.id) || ids.has(rec.id)) {
          throw new StorageError('INVALID_INPUT', `a media file with id ${rec.id} already exists`, { id: rec.id });
        }
        for (const path of [rec.path, ...Object.values(rec.sizes).map((s) => s.path)]) {
          const served = servedFormOf(path);
          if (takenPaths.has(served) || paths.has(served)) {
            throw new StorageError('INVALID_INPUT', `a media file with path ${path} already exists`, { path });
          }
          paths.add(served);
        }
        ids.add(rec.id);
      }
      if (records.length === 0) return [];
      const { rows } = await q.query<{ last: string }>('SELECT coalesce(max(position), 0) AS last FROM media WHERE project_id = $1', [this.projectId]);
      const after = Number(rows[0]?.last ?? 0);
      await q.query(
        `INSERT INTO media (project_id, id, position, record, path, type, uploaded)
         SELECT $1, t.id, $2::bigint + t.n, t.record::json, t.path, t.type, t.uploaded
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS t(id, record, path, type, uploaded, n)`,
        [
          this.projectId,
          after,
          records.map((r) => r.id),
          records.map(storedRecordText),
          records.map((r) => r.path),
          records.map((r) => r.type),
          records.map((r) => r.uploaded ?? null),
        ],
      );
      const claims = records.flatMap((r) => servedPathsOf(r).map((p) => [p, r.id] as const));
      await q.query(
        'INSERT INTO media_paths (project_id, path, media_id) SELECT $1, t.path, t.id FROM unnest($2::text[], $3::text[]) AS t(path, id)',
        [this.projectId, claims.map((c) => c[0]), claims.map((c) => c[1])],
      );
      // No usedIn key: a new record is used nowhere (media-operations.ts).
      return records.map((rec): MediaRecord => ({ ...rec }));
    });
  }

  async updateMetadata(fileId: string, patch: MetadataPatch): Promise<MediaRecord> {
    return this.writing(async (q) => {
      const row = await this.oneRecord(q, fileId);
      const metadata = { ...row.record.metadata };
      applyMetadataPatch(metadata, row.record.type, patch);
      const record: MediaRecord = { ...row.record, metadata };
      await q.query('UPDATE media SET record = $3::json WHERE project_id = $1 AND id = $2', [this.projectId, fileId, storedRecordText(record)]);
      return answerOf({ ...row, record });
    });
  }

  /** The in-use check reads the usage rows inside the transaction that deletes: no save can slip in between. */
  async deleteMedia(fileIds: string[]): Promise<DeleteMediaResult> {
    return this.writing(async (q) => {
      const unique = [...new Set(fileIds)];
      const byId = new Map((await selectMedia(q, this.projectId, unique)).map((row) => [row.id, row]));
      const result: DeleteMediaResult = { deleted: [], inUse: [], notFound: [] };
      for (const id of unique) {
        const row = byId.get(id);
        if (!row) result.notFound.push(id);
        else if (row.used_in.length > 0) result.inUse.push({ id, filename: row.record.filename, usedIn: row.used_in });
        else result.deleted.push(answerOf(row));
      }
      if (result.deleted.length > 0) {
        await q.query('DELETE FROM media WHERE project_id = $1 AND id = ANY($2::text[])', [this.projectId, result.deleted.map((r) => r.id)]);
      }
      return result;
    });
  }

  /** Content and its usage commit together: usage is exact the moment the save is acknowledged. */
  async saveContent(source: UsageSource, text: string, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.writing(async (q) => {
      const fileIds = await replaceSourceUsage(q, this.projectId, source, mediaPaths);
      await q.query(
        `INSERT INTO content (project_id, source, body) VALUES ($1, $2, $3)
         ON CONFLICT (project_id, source) DO UPDATE SET body = excluded.body`,
        [this.projectId, source, text],
      );
      return { source, mediaPaths, fileIds };
    });
  }

  async deleteContent(source: UsageSource): Promise<void> {
    return this.writing(async (q) => {
      const { rowCount } = await q.query('DELETE FROM content WHERE project_id = $1 AND source = $2', [this.projectId, source]);
      if (!rowCount) throw new StorageError('PAGE_NOT_FOUND', `no saved content for ${source}`, { projectId: this.projectId, source });
      await replaceSourceUsage(q, this.projectId, source, []);
    });
  }

  async setUsage(source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.writing(async (q) => {
      const fileIds = await replaceSourceUsage(q, this.projectId, source, mediaPaths);
      return { source, mediaPaths, fileIds };
    });
  }

  /**
   * Every source's usage from its stored content; a source without content
   * (usage set by `setUsage`) then uses nothing — the editor's "refresh usage".
   */
  async refreshUsage(): Promise<RefreshUsageResult> {
    return this.writing(async (q) => {
      const { rows } = await q.query<{ source: string; body: string }>('SELECT source, body FROM content WHERE project_id = $1 ORDER BY source', [this.projectId]);
      const withContent = new Set(rows.map((r) => r.source));
      for (const source of await markingSources(q, this.projectId)) if (!withContent.has(source)) await replaceSourceUsage(q, this.projectId, source, []);
      const found = new Map<string, string[]>();
      for (const row of rows) found.set(row.source, await replaceSourceUsage(q, this.projectId, row.source, extractMediaPaths(JSON.parse(row.body))));
      const inUse = new Set<string>();
      for (const ids of found.values()) for (const id of ids) inUse.add(id);
      return { sources: found.size, filesInUse: inUse.size };
    });
  }

  // --- the two kinds of transaction --------------------------------------------

  private reading<T>(body: (q: Queryable) => Promise<T>): Promise<T> {
    return this.db.track(() =>
      this.db.transaction('read', async (q) => {
        await requireProjectRow(q, this.projectId, 'no lock');
        return body(q);
      }),
    );
  }

  /**
   * In this process's call order, in the next transaction of the project's
   * group commit (group-commit.ts), which holds the project's row until it
   * commits; answered once that transaction has committed.
   */
  private writing<T>(body: (q: Queryable) => Promise<T>): Promise<T> {
    return this.db.track(() => this.groupCommit.run(this.projectId, body));
  }

  private async oneRecord(q: Queryable, fileId: string) {
    const [row] = await selectMedia(q, this.projectId, [fileId]);
    if (!row) throw new StorageError('MEDIA_NOT_FOUND', `no media file with id ${fileId}`, { projectId: this.projectId, fileId });
    return row;
  }

  private async column(q: Queryable, sql: string, values: string[]): Promise<Set<string>> {
    if (values.length === 0) return new Set();
    const { rows } = await q.query<{ v: string }>(sql, [this.projectId, values]);
    return new Set(rows.map((r) => r.v));
  }
}
