/**
 * With names claimed in the database, an upload's records are committed
 * before its staged blobs are published. When the publish fails (here: the
 * folder fsync after the renames), the records are taken back and the blobs
 * removed: no record is left pointing at bytes that may not be on disk, and
 * the client gets STORAGE_IO, not a 201.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { realUploadFs, type UploadFs } from '../../server/upload/upload-fs.js';
import { raster } from '../fixtures/media-samples.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { startServer, uploadsDir, type TestServer } from '../server/harness.js';

const test = suite('upload publish failure (PostgreSQL name claims)');
let database: TestPostgres;
let server: TestServer | undefined;
let failImagesSyncNumber = 0;
let imagesSyncs = 0;

/** Fails the `failImagesSyncNumber`-th fsync of an images folder. */
const faultyFs: UploadFs = {
  syncFile: realUploadFs.syncFile,
  async syncDirectory(path) {
    if (path.endsWith('images') && ++imagesSyncs === failImagesSyncNumber) throw Object.assign(new Error('injected EIO'), { code: 'EIO' });
    await realUploadFs.syncDirectory(path);
  },
};

test.before(async () => {
  database = await startTestPostgres('http-publish');
  server = await startServer('pg-publish', {}, { databaseUrl: database.url }, { uploadFs: faultyFs, uploadNameClaim: 'storage-record' });
  await server.createProject('Site', 'site');
});
test.after(async () => {
  await server?.close();
  await database?.close();
});

test('a failed publish takes the records back and removes every blob', async () => {
  const s = server!;
  // The first images-folder fsync is before the commit, the second after the renames.
  imagesSyncs = 0;
  failImagesSyncNumber = 2;
  const res = await s.upload('site', [{ filename: 'photo.png', data: await raster('png', 200, 100, 1) }]);
  assert.is(res.json.code, 'STORAGE_IO', res.text);
  assert.is(imagesSyncs, 2, 'the failure was the fsync after the publish');
  assert.equal((await s.request('GET', '/api/media/projects/site/media')).json.files, [], 'no record left');
  assert.equal(await readdir(join(uploadsDir(s, 'site'), 'images')), [], 'no blob left, staged or published');

  // The same upload without the fault: published under the name it claimed.
  failImagesSyncNumber = 0;
  const ok = await s.upload('site', [{ filename: 'photo.png', data: await raster('png', 200, 100, 1) }]);
  assert.is(ok.status, 201, ok.text);
  assert.equal((await readdir(join(uploadsDir(s, 'site'), 'images'))).sort(), ['photo.png', 'photo.thumb.png']);
});

test.run();
