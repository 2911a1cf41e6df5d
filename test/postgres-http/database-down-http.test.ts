/**
 * PostgreSQL stopped (`pg_ctl stop -m immediate`) under load, a server
 * process in front of it: while it is down every write answers 503
 * STORAGE_UNAVAILABLE at once (the slowest failing answer is printed) and
 * `/health` says the storage is down; after a start the same process, never
 * restarted, serves again, and nothing acknowledged before the stop is lost.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestPostgres, type OwnServer, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { call, contentRows, killServer, pageBody, startDatabaseServer, type ServerProcess } from './servers-on-one-database.js';

const LOOPS = 4;
/** Not a timing assertion on speed: a bound that separates "answers" from "hangs until some deadline" (the pool's connect timeout is 2 s). */
const HANG_MS = 5000;

const test = suite('database stopped under HTTP load');
let database: TestPostgres;
let blobDir: string;
let server: ServerProcess | undefined;

test.before(async () => {
  // Its own PostgreSQL whatever MEDIASTORE_TEST_DATABASE_URL says: this test stops it.
  database = await startTestPostgres('http-down', { ownServer: true });
  blobDir = await makeTempDir('pg-http-down-blobs');
  server = await startDatabaseServer(blobDir, database.url);
});
test.after(async () => {
  await killServer(server);
  await database?.close();
  if (blobDir) await removeTempDir(blobDir);
});

test('503 STORAGE_UNAVAILABLE while down, health says so, the same process serves after a start', async () => {
  const control: OwnServer = database.server!;
  const s = server!;
  assert.is((await call(s, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);

  let stop = false;
  const acked = new Map<string, number>();
  const failures: Array<{ status: number; code: unknown; ms: number }> = [];
  const loops = Array.from({ length: LOOPS }, async (_, k) => {
    for (let i = 0; !stop; i++) {
      const started = performance.now();
      const res = await call(s, 'POST', `/api/projects/site/pages/page-${k}/content`, pageBody(i, []));
      if (res.status === 200) acked.set(`page-${k}`, i);
      else {
        failures.push({ status: res.status, code: res.json.code, ms: performance.now() - started });
        await sleep(10);
      }
    }
  });

  while (acked.size < LOOPS) await sleep(10);
  const ackedBeforeStop = new Map(acked);
  await control.stopImmediately();
  while (failures.length < LOOPS * 5) await sleep(10);
  const health = await call(s, 'GET', '/health');
  stop = true;
  await Promise.all(loops);

  assert.equal([...new Set(failures.map((f) => `${f.status} ${String(f.code)}`))], ['503 STORAGE_UNAVAILABLE'], 'every failure while down says so');
  const slowest = Math.max(...failures.map((f) => f.ms));
  console.log(`database down: ${failures.length} failed saves, slowest failing answer ${slowest.toFixed(1)} ms`);
  assert.ok(slowest < HANG_MS, `no failing answer hung (slowest ${slowest.toFixed(0)} ms)`);
  assert.is(health.status, 503, 'health while down');
  assert.equal((health.json.storage as { ok: boolean; code: string }), { ok: false, code: 'STORAGE_UNAVAILABLE' });

  await control.start();
  let back = await call(s, 'POST', '/api/projects/site/pages/after/content', pageBody(1, []));
  for (let tries = 0; back.status !== 200 && tries < 100; tries++) {
    await sleep(100);
    back = await call(s, 'POST', '/api/projects/site/pages/after/content', pageBody(1, []));
  }
  assert.is(back.status, 200, `serves again: ${back.text}`);
  assert.is((await call(s, 'GET', '/health')).status, 200, 'healthy again');
  assert.is(s.child.exitCode, null, 'the same process, never restarted');
  const stored = await contentRows(database.url, 'site');
  for (const [page, round] of acked) assert.ok(((stored.get(page) as { round: number }).round ?? -1) >= round, `${page}: acknowledged round ${round} kept`);
  assert.ok(ackedBeforeStop.size === LOOPS);
});

test.run();
