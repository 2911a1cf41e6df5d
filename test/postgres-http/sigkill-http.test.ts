/**
 * One of two server processes over one database is killed with SIGKILL
 * while both are under load (page saves, a page both servers save, and
 * uploads): every write either server acknowledged is in the database (and
 * every acknowledged upload's bytes in the blob dir, served by the
 * survivor), usage is exact, and the other server never fails a request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { raster } from '../fixtures/media-samples.js';
import { call, contentRows, pageBody, sha256, twoServersOnOneDatabase, upload, usageRows, type ServerProcess } from './servers-on-one-database.js';

const test = suite('SIGKILL of one of two servers under load');
const two = twoServersOnOneDatabase(test, 'http-sigkill');


test('nothing acknowledged is lost, the survivor keeps serving', async () => {
  const [victim, survivor] = two.servers;
  assert.is((await call(survivor, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);
  const images = await Promise.all([0, 1, 2, 3].map((seed) => raster('png', 200, 100, seed)));
  const seeded = await upload(survivor, 'site', images.map((data, i) => ({ filename: `seed-${i}.png`, data })));
  assert.is(seeded.status, 201, seeded.text);
  const paths = (seeded.json.processedFiles as MediaRecord[]).map((r) => r.path);

  let stop = false;
  const lastAcked = new Map<string, number>();
  const ackedUploads = new Map<string, { record: MediaRecord; sha: string }>();
  const survivorFailures: string[] = [];
  let victimDead = false;
  const loop = async (server: ServerProcess, work: (i: number) => Promise<void>): Promise<void> => {
    for (let i = 0; !stop; i++) {
      try {
        await work(i);
      } catch (err) {
        if (server === survivor) survivorFailures.push(String(err));
        else if (victimDead) return; // the victim's connection dropped: expected
        else throw err;
      }
    }
  };
  // The shared page gets different files from each server, so a save applied over the other's usage shows.
  const saver = (server: ServerProcess, page: string, k: number) => async (i: number) => {
    const named = page === 'shared' ? paths.slice(k * 2, k * 2 + 1 + (i % 2)) : [paths[i % paths.length]!, paths[(i + page.length) % paths.length]!];
    const res = await call(server, 'POST', `/api/projects/site/pages/${page}/content`, pageBody(i, named));
    if (res.status !== 200) throw new Error(`${page}: ${res.status} ${res.text}`);
    if (!page.startsWith('shared')) lastAcked.set(page, i);
  };
  const uploader = (server: ServerProcess, k: number) => async (i: number) => {
    const data = await raster('png', 160, 80, 100 + k * 1000 + i);
    const res = await upload(server, 'site', [{ filename: 'same.png', data }]);
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${res.text}`);
    const record = (res.json.processedFiles as MediaRecord[])[0]!;
    ackedUploads.set(record.id, { record, sha: sha256(data) });
  };
  const loops = [victim, survivor].flatMap((server, k) => [
    loop(server, saver(server, `own-${k}-a`, k)),
    loop(server, saver(server, `own-${k}-b`, k)),
    loop(server, saver(server, 'shared', k)),
    loop(server, uploader(server, k)),
  ]);

  while (ackedUploads.size < 6 || lastAcked.size < 4) await sleep(10);
  victimDead = true;
  victim.child.kill('SIGKILL');
  await victim.exited;
  const ackedAtKill = new Map(lastAcked);
  await sleep(1000);
  stop = true;
  await Promise.all(loops);

  assert.equal(survivorFailures, [], 'the survivor answered every request');
  const stored = await contentRows(two.database.url, 'site');
  for (const [page, round] of ackedAtKill) {
    const body = stored.get(page) as { round: number } | undefined;
    assert.ok(body && body.round >= round, `${page}: acknowledged round ${round} kept (stored ${body?.round})`);
  }
  // The victim may have committed a save it never answered; the survivor answered every one.
  for (const [page, round] of lastAcked) if (page.startsWith('own-1-')) assert.is((stored.get(page) as { round: number }).round, round, `${page} is its last acknowledged save`);

  const listed = new Map(((await call(survivor, 'GET', '/api/media/projects/site/media')).json.files as MediaRecord[]).map((r) => [r.id, r]));
  for (const [id, { record, sha: expected }] of ackedUploads) {
    assert.ok(listed.has(id), `acknowledged upload ${record.filename} listed`);
    const res = await call(survivor, 'GET', `/api/media/projects/site/uploads/images/${record.filename}`);
    assert.is(res.status, 200, `${record.filename} served by the survivor`);
    assert.is(sha256(res.body), expected, `${record.filename} has its bytes`);
  }

  const usage = await usageRows(two.database.url, 'site');
  for (const [source, body] of stored) {
    const named = [...new Set((body as { blocks: Array<{ src: string }> }).blocks.map((x) => x.src))].sort();
    assert.equal(usage.get(source) ?? [], named, `usage of ${source} is exactly what its content names`);
  }
  console.log(`killed pid ${victim.pid}: ${ackedUploads.size} acknowledged uploads and ${lastAcked.size} pages checked`);
});

test.run();
