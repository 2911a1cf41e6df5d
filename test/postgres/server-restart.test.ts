/**
 * The database server dies under load (`pg_ctl stop -m immediate`, a crash
 * as far as clients can tell): calls in flight and new calls fail with
 * STORAGE_UNAVAILABLE instead of hanging; once the server is started again
 * the same backend instance works without being touched, and everything
 * acknowledged before the crash is there.
 */
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { startTestPostgres, type OwnServer, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { saveContent } from '../helpers/content-saves.js';

const LOOPS = 6;

const test = suite('database server stopped under load');
let server: TestPostgres;

test.before(async () => {
  // Its own server whatever MEDIASTORE_TEST_DATABASE_URL says: this test stops it.
  server = await startTestPostgres('restart', { ownServer: true });
});
test.after(async () => {
  await server?.close();
});

test('fails fast with STORAGE_UNAVAILABLE while down, works again after a start, nothing acknowledged lost', readable(async () => {
  const control: OwnServer = server.server!;
  const backend = await PostgresBackend.open({ databaseUrl: server.url });
  try {
    await backend.createProject({ id: 'p', name: 'p' });
    const lib = await backend.library('p');
    const files = await lib.addMedia(makeImageRecords(LOOPS));

    let stopLoad = false;
    const acked = new Map<string, unknown>();
    const tried = new Map<string, unknown>();
    const failures: Array<{ code: string; ms: number }> = [];
    const loops = files.map(async (file, k) => {
      for (let i = 0; !stopLoad; i++) {
        const source = `load-${k}`;
        const content = { i, img: file.path };
        tried.set(source, content);
        const started = performance.now();
        try {
          await saveContent(lib, source, content);
          acked.set(source, content);
        } catch (err) {
          failures.push({ code: err instanceof StorageError ? err.code : String(err), ms: performance.now() - started });
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    });

    while (acked.size < LOOPS || failures.length > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const ackedBeforeStop = new Map(acked);
    await control.stopImmediately();
    while (failures.length < LOOPS * 3) await new Promise((resolve) => setTimeout(resolve, 10));
    stopLoad = true;
    await Promise.all(loops);

    assert.equal([...new Set(failures.map((f) => f.code))], ['STORAGE_UNAVAILABLE'], 'every failure while down says so');
    const started = performance.now();
    assert.is((await rejection(lib.read())).code, 'STORAGE_UNAVAILABLE');
    assert.is((await rejection(backend.listProjects())).code, 'STORAGE_UNAVAILABLE');
    const downMs = performance.now() - started;
    const slowest = Math.max(...failures.map((f) => f.ms));
    console.log(`server down: ${failures.length} failed calls, slowest ${slowest.toFixed(1)} ms; read + listProjects while down ${downMs.toFixed(1)} ms`);

    await control.start();
    // The very same instance, untouched: the pool dropped its dead connections and opens new ones.
    const { doc } = await lib.read();
    assert.is(doc.files.length, LOOPS);
    for (const source of ackedBeforeStop.keys()) assert.ok((await lib.readContent(source)) !== undefined, `${source} kept`);
    for (const [source, content] of acked) {
      const stored = JSON.stringify(await lib.readContent(source));
      assert.ok(stored === JSON.stringify(content) || stored === JSON.stringify(tried.get(source)), `${source}: the last acknowledged save or the one in flight`);
    }
    for (const [k, file] of files.entries()) assert.equal((await lib.getMedia(file.id)).usedIn, [`load-${k}`]);
    await saveContent(lib, 'after', { img: files[0]!.path });
    assert.equal((await lib.getMedia(files[0]!.id)).usedIn, ['load-0', 'after']);
  } finally {
    await backend.drain();
  }
}));

test.run();
