/**
 * Deleting a project under PostgreSQL: the database delete removes rows
 * only, so the route removes the project's blob folder
 * (`DATA_DIR/projects/<folder>/`) — after the delete commits, never before
 * (an acknowledged record must never point at missing bytes). A delete the
 * database refuses leaves every byte where it was.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { directoryBlobStore } from '../../server/blob-store/directory-blob-store.js';
import type { BlobStore } from '../../server/blob-store/blob-store.js';
import { projectDirOf, projectsDirOf } from '../../shared/project-paths.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { raster } from '../fixtures/media-samples.js';
import { assertError, startServer, type TestServer } from '../server/harness.js';

const test = suite('project deletion removes its blob folder (PostgreSQL)');
let database: TestPostgres;
let server: TestServer | undefined;
/** for each folder removal: did the project's row still exist at that moment? */
const rowAtRemoval: Array<{ folder: string; rows: number }> = [];

async function projectRows(id: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM projects WHERE id = $1', [id])).rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** The real directory store; its folder removal first looks at the database from outside. */
const watchedBlobs: BlobStore = Object.assign(Object.create(directoryBlobStore) as BlobStore, {
  async removeProjectFolder(location: string) {
    const folder = location.slice(location.lastIndexOf('/') + 1);
    rowAtRemoval.push({ folder, rows: await projectRows(folder) });
    return directoryBlobStore.removeProjectFolder(location);
  },
});

test.before(async () => {
  database = await startTestPostgres('http-project-delete');
  // A short lock wait, so a delete blocked by a held project row fails fast.
  server = await startServer('pg-project-delete', {}, { databaseUrl: database.url, lockTimeoutMs: 300 }, { uploadNameClaim: 'storage-record', blobs: watchedBlobs });
});
test.after(async () => {
  await server?.close();
  await database?.close();
});

const png = () => raster('png', 120, 80, 3);

test('DELETE removes the folder after the delete committed; other projects keep theirs', async () => {
  const s = server!;
  await s.createProject('Site', 'site');
  await s.createProject('Other', 'other');
  for (const id of ['site', 'other']) assert.is((await s.upload(id, [{ filename: 'photo.png', data: await png() }])).status, 201);
  assert.ok((await readdir(join(projectDirOf(s.dataDir, 'site'), 'uploads', 'images'))).includes('photo.png'));

  rowAtRemoval.length = 0;
  const res = await s.request('DELETE', '/api/projects/site');
  assert.is(res.status, 200, res.text);
  assert.equal(rowAtRemoval, [{ folder: 'site', rows: 0 }], 'the folder was removed once, after the row was gone');
  const left = await readdir(projectsDirOf(s.dataDir));
  assert.equal(left.sort(), ['other'], 'no folder of the deleted project, and no half-removed one');
  assert.equal(await readdir(join(projectDirOf(s.dataDir, 'other'), 'uploads', 'images')), ['photo.png'], 'the other project untouched');
  assertError(await s.request('GET', '/api/projects/site'), 404, 'PROJECT_NOT_FOUND');

  // The id can be used again, with a folder of its own.
  await s.createProject('Site again', 'site');
  const again = await s.upload('site', [{ filename: 'photo.png', data: await png() }]);
  assert.is(again.status, 201, again.text);
  assert.is((await s.request('GET', '/api/media/projects/site/uploads/images/photo.png')).status, 200);
});

test('a delete the database refuses keeps every byte', async () => {
  const s = server!;
  await s.createProject('Held', 'held');
  assert.is((await s.upload('held', [{ filename: 'photo.png', data: await png() }])).status, 201);
  const before = await readdir(join(projectDirOf(s.dataDir, 'held'), 'uploads', 'images'));
  // Another session holds the project's row: the delete waits, then fails with LOCK_TIMEOUT.
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  rowAtRemoval.length = 0;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM projects WHERE id = $1 FOR UPDATE', ['held']);
    const res = await s.request('DELETE', '/api/projects/held');
    assertError(res, 503, 'LOCK_TIMEOUT');
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
  }
  assert.equal(rowAtRemoval, [], 'nothing removed');
  assert.equal(await readdir(join(projectDirOf(s.dataDir, 'held'), 'uploads', 'images')), before);
  assert.is((await s.request('GET', '/api/media/projects/held/uploads/images/photo.png')).status, 200, 'the record still has its bytes');
});

test.run();
