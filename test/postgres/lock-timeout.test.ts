/**
 * A writer that waits too long for its project's row (another server's
 * transaction holds it) gives up with LOCK_TIMEOUT, the file backend's code
 * for the same wait, and leaves nothing behind; other projects never wait.
 */
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { saveContent } from '../helpers/content-saves.js';

const test = suite('project lock timeout');
let server: TestPostgres;

test.before(async () => {
  server = await startTestPostgres('lock-timeout');
});
test.after(async () => {
  await server?.close();
});

test('a held project row: LOCK_TIMEOUT, nothing written; another project is not held up; the write goes through once released', readable(async () => {
  const backend = await PostgresBackend.open({ databaseUrl: server.url, lockTimeoutMs: 300 });
  const holder = new pg.Client({ connectionString: server.url, application_name: 'test-holder' });
  await holder.connect();
  try {
    await backend.createProject({ id: 'held', name: 'held' });
    await backend.createProject({ id: 'free', name: 'free' });
    const held = await backend.library('held');
    const free = await backend.library('free');
    const [file] = await held.addMedia(makeImageRecords(1));

    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM projects WHERE id = 'held' FOR UPDATE");
    const err = await rejection(saveContent(held, 'home', { img: file!.path }));
    assert.is(err.code, 'LOCK_TIMEOUT');
    await saveContent(free, 'home', {}); // another project's row is not held
    assert.equal((await held.read()).doc.files, [file], 'reads take no lock');
    await holder.query('COMMIT');

    assert.is(await held.readContent('home'), undefined, 'the timed-out save left nothing');
    assert.not.ok('usedIn' in (await held.getMedia(file!.id)));
    await saveContent(held, 'home', { img: file!.path });
    assert.equal((await held.getMedia(file!.id)).usedIn, ['home']);
  } finally {
    await holder.end();
    await backend.drain();
  }
}));

test('drain waits for the writes in flight, then the same backend serves again with a new pool', readable(async () => {
  const backend = await PostgresBackend.open({ databaseUrl: server.url });
  await backend.createProject({ id: 'drained', name: 'drained' });
  const lib = await backend.library('drained');
  const writes = Array.from({ length: 5 }, (_, i) => saveContent(lib, `page-${i}`, { i }));
  const drained = await backend.drain();
  await Promise.all(writes);
  assert.ok(drained.operations >= 1, `drain waited for writes in flight (${drained.operations})`);
  assert.equal(await lib.contentSources(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  await backend.drain();
}));

test.run();
