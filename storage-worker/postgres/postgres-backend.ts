/**
 * The PostgreSQL LibraryBackend: projects are rows, each project's library
 * a PostgresLibrary. Any number of servers may share one database; nothing
 * here is cached that another server could change (a library object holds
 * only its project's id).
 */
import { StorageError } from '../../shared/errors.js';
import type { ProjectInfo } from '../../shared/media-types.js';
import type { LibraryBackend } from '../library-backend.js';
import { Database, type DatabaseOptions, type Queryable } from './database.js';
import { runMigrations } from './migrate.js';
import { storageErrorFromPg } from './pg-errors.js';
import { PostgresLibrary } from './postgres-library.js';
import { projectIdCandidates } from '../project-id-candidates.js';
import { ProjectGroupCommit } from './group-commit.js';

export type PostgresBackendOptions = DatabaseOptions;

interface ProjectRow {
  id: string;
  folder: string;
  name: string;
  created_at: Date;
}

export class PostgresBackend implements LibraryBackend {
  readonly kind = 'postgres';
  /** libraries by the id they were asked for (a UUID or a folder name) */
  private readonly libraries = new Map<string, PostgresLibrary>();
  /** one per backend, keyed by canonical id: a UUID and its folder name share one queue */
  private readonly groupCommit: ProjectGroupCommit;

  private constructor(private readonly db: Database) {
    this.groupCommit = new ProjectGroupCommit(db);
  }

  /** projects whose library object is open (stats, ping) */
  get openProjects(): number {
    return new Set([...this.libraries.values()].map((l) => l.projectId)).size;
  }

  /**
   * A backend that connects, and brings the schema up to date (safe with
   * several servers starting at once), on its first operation: a server
   * started while the database is down answers STORAGE_UNAVAILABLE and
   * starts serving once it is up.
   */
  static create(options: PostgresBackendOptions): PostgresBackend {
    return new PostgresBackend(new Database({ ...options, prepare: (pool) => runMigrations(pool) }));
  }

  /** `create`, then connect and migrate now (a failure closes the pool and rejects). */
  static async open(options: PostgresBackendOptions): Promise<PostgresBackend> {
    const backend = PostgresBackend.create(options);
    try {
      await backend.db.ready();
    } catch (err) {
      await backend.db.close().catch(() => undefined);
      throw storageErrorFromPg(err);
    }
    return backend;
  }

  async createProject(input: { id?: string; name: string }): Promise<ProjectInfo> {
    const candidates = input.id !== undefined ? [input.id] : projectIdCandidates(input.name);
    return this.run('write', async (q) => {
      const createdAt = new Date();
      // Taken ids and folders first (one query), then an insert that a concurrent creator may still beat: try the next.
      const { rows } = await q.query<{ v: string }>(
        'SELECT id AS v FROM projects WHERE id = ANY($1::text[]) UNION SELECT folder FROM projects WHERE folder = ANY($1::text[])',
        [candidates],
      );
      const taken = new Set(rows.map((r) => r.v));
      for (const id of candidates) {
        if (taken.has(id)) continue;
        // registry_entry: the projects.json entry the file backend would write for it, so an export registers it for the editor.
        const made = await q.query<ProjectRow>(
          `INSERT INTO projects (id, folder, name, created_at, registry_entry)
           VALUES ($1, $1, $2, $3, json_build_object('id', $1::text, 'folderName', $1::text, 'name', $2::text, 'created', $4::text, 'updated', $4::text))
           ON CONFLICT DO NOTHING RETURNING *`,
          [id, input.name, createdAt, createdAt.toISOString()],
        );
        if (made.rows[0]) return infoOf(made.rows[0]);
      }
      if (input.id !== undefined) throw new StorageError('PROJECT_EXISTS', `a project with id ${input.id} already exists`, { projectId: input.id });
      throw new StorageError('PROJECT_EXISTS', `could not find a free project id for ${JSON.stringify(input.name)}`);
    });
  }

  async probe(): Promise<void> {
    await this.run('read', (q) => q.query('SELECT 1'));
  }

  async listProjects(): Promise<ProjectInfo[]> {
    return this.run('read', async (q) => {
      const { rows } = await q.query<ProjectRow>('SELECT * FROM projects ORDER BY created_at, id');
      return rows.map(infoOf);
    });
  }

  async getProject(projectId: string): Promise<ProjectInfo> {
    return this.run('read', async (q) => infoOf(await resolve(q, projectId)));
  }

  async deleteProject(projectId: string): Promise<void> {
    await this.run('write', async (q) => {
      const project = await resolve(q, projectId, 'FOR UPDATE');
      // Media, paths, usage and content go with it (ON DELETE CASCADE), in this one commit.
      await q.query('DELETE FROM projects WHERE id = $1', [project.id]);
      for (const [asked, library] of this.libraries) if (library.projectId === project.id) this.libraries.delete(asked);
    });
  }

  async library(projectId: string): Promise<PostgresLibrary> {
    const known = this.libraries.get(projectId);
    if (known) return known;
    const project = await this.getProject(projectId);
    const library = new PostgresLibrary(this.db, this.groupCommit, project.id);
    this.libraries.set(projectId, library);
    return library;
  }

  /** One counted transaction (drain waits for it). */
  private run<T>(mode: 'read' | 'write', body: (q: Queryable) => Promise<T>): Promise<T> {
    return this.db.track(() => this.db.transaction(mode, body));
  }

  /** Waits for the operations in flight and closes the pool; the next call opens a new one. */
  async drain(): Promise<{ projects: number; operations: number }> {
    const projects = new Set([...this.libraries.values()].map((l) => l.projectId)).size;
    this.libraries.clear();
    const operations = await this.db.close();
    return { projects, operations };
  }
}

/** By id first, else by folder; PROJECT_NOT_FOUND if neither. */
async function resolve(q: Queryable, projectId: string, lock = ''): Promise<ProjectRow> {
  const { rows } = await q.query<ProjectRow>(
    `SELECT * FROM projects WHERE id = $1 OR folder = $1 ORDER BY (id = $1) DESC LIMIT 1 ${lock}`,
    [projectId],
  );
  if (!rows[0]) throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
  return rows[0];
}

function infoOf(row: ProjectRow): ProjectInfo {
  return { id: row.id, folder: row.folder, name: row.name, createdAt: row.created_at.toISOString() };
}
