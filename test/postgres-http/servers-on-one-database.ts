/**
 * Real mediastore server processes (`node dist/bin/mediastore.js`, as
 * `npm start` runs it) over one throwaway PostgreSQL and one shared blob
 * dir, for the several-servers tests: what a deployment of several servers
 * behind a load balancer is, minus the balancer.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'uvu';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { multipart, send, type Res, type UploadPart } from '../server/harness.js';
import { killServer, startServer, type ServerProcess } from '../lifecycle/server-process.js';

export { killServer } from '../lifecycle/server-process.js';
export type { ServerProcess };

/** One server over `databaseUrl`, binaries under `blobDir` (DATA_DIR). */
export function startDatabaseServer(blobDir: string, databaseUrl: string): Promise<ServerProcess> {
  return startServer(blobDir, { DATABASE_URL: databaseUrl });
}

export function call(server: ServerProcess, method: string, path: string, json?: unknown): Promise<Res> {
  return send(server.port, method, path, json === undefined ? {} : { json });
}

export function upload(server: ServerProcess, projectId: string, files: UploadPart[]): Promise<Res> {
  const { body, contentType } = multipart(files);
  return send(server.port, 'POST', `/api/media/projects/${projectId}/media`, { body, headers: { 'content-type': contentType } });
}

/** A page that names media paths, as the editor's autosave sends it. */
export function pageBody(round: number, paths: readonly string[]): Record<string, unknown> {
  return { round, blocks: paths.map((src, i) => ({ type: 'image', id: `b${i}`, src })) };
}

/** `source → sorted filenames`, read from the database's usage rows, not through a server. */
export async function usageRows(databaseUrl: string, projectId: string): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ source: string; path: string }>(
      'SELECT u.source, m.path FROM usage u JOIN media m ON m.project_id = u.project_id AND m.id = u.media_id WHERE u.project_id = $1',
      [projectId],
    );
    const out = new Map<string, string[]>();
    for (const { source, path } of rows) out.set(source, [...(out.get(source) ?? []), path].sort());
    return out;
  } finally {
    await client.end();
  }
}

/** Every stored content source of a project, `source → body`, read from the database. */
export async function contentRows(databaseUrl: string, projectId: string): Promise<Map<string, unknown>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ source: string; body: string }>('SELECT source, body FROM content WHERE project_id = $1', [projectId]);
    return new Map(rows.map((r) => [r.source, JSON.parse(r.body) as unknown]));
  } finally {
    await client.end();
  }
}

export interface TwoServers {
  database: TestPostgres;
  blobDir: string;
  servers: [ServerProcess, ServerProcess];
}

/**
 * Registers the suite's set-up: a throwaway PostgreSQL, one blob dir, and two
 * server processes on both; everything is stopped and removed after. The
 * returned object is filled in before the first test runs.
 */
export function twoServersOnOneDatabase(tests: Test, label: string): TwoServers {
  const two = {} as TwoServers;
  tests.before(async () => {
    two.database = await startTestPostgres(label);
    two.blobDir = await makeTempDir(`${label}-blobs`);
    two.servers = (await Promise.all([startDatabaseServer(two.blobDir, two.database.url), startDatabaseServer(two.blobDir, two.database.url)])) as [ServerProcess, ServerProcess];
  });
  tests.after(async () => {
    for (const s of two.servers ?? []) await killServer(s);
    await two.database?.close();
    if (two.blobDir) await removeTempDir(two.blobDir);
  });
  return two;
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
