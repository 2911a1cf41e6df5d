/**
 * Two real server processes over one PostgreSQL and one blob dir (issue 10):
 * uploads of the same name on both at once get distinct stored names and
 * both are served with their own bytes by either server; autosave rounds on
 * disjoint pages (each server its own) and overlapping ones (both servers,
 * the same page, different media) lose nothing, and usage read from the
 * database's rows is exactly what the stored content names.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { raster } from '../fixtures/media-samples.js';
import { call, contentRows, pageBody, sha256, twoServersOnOneDatabase, upload, usageRows } from './servers-on-one-database.js';

const ROUNDS = 6;
const SAME_NAME_UPLOADS = 3;

const test = suite('two servers, one database, one blob dir');
const two = twoServersOnOneDatabase(test, 'http-two');


test('same names uploaded on both at once: distinct names, each served with its own bytes by both servers', async () => {
  const [a, b] = two.servers;
  assert.is((await call(a, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);

  const sent = new Map<string, string>();
  const requests: Array<Promise<MediaRecord[]>> = [];
  for (let i = 0; i < SAME_NAME_UPLOADS; i++) {
    for (const [k, server] of [a, b].entries()) {
      // two files of the same name in one request, too
      const first = await raster('png', 200, 100, i * 10 + k * 2);
      const second = await raster('png', 200, 100, i * 10 + k * 2 + 1);
      requests.push(
        upload(server, 'site', [
          { filename: 'photo.png', data: first },
          { filename: 'photo.png', data: second },
        ]).then((res) => {
          assert.is(res.status, 201, res.text);
          const records = res.json.processedFiles as MediaRecord[];
          sent.set(records[0]!.id, sha256(first));
          sent.set(records[1]!.id, sha256(second));
          return records;
        }),
      );
    }
  }
  const records = (await Promise.all(requests)).flat();
  const names = records.map((r) => r.filename);
  assert.is(new Set(names).size, SAME_NAME_UPLOADS * 4, `distinct names: ${names.join(', ')}`);
  assert.ok(names.every((n) => /^photo(-\d+)?\.png$/.test(n)), names.join(', '));

  for (const record of records) {
    for (const server of two.servers) {
      const res = await call(server, 'GET', `/api/media/projects/site/uploads/images/${record.filename}`);
      assert.is(res.status, 200);
      assert.is(sha256(res.body), sent.get(record.id), `${record.filename} has its own bytes on port ${server.port}`);
      const thumb = record.sizes.thumb!;
      assert.is((await call(server, 'GET', `/api/media/projects/site/uploads/images/${thumb.filename}`)).status, 200, `${thumb.filename} served`);
    }
  }
  const listed = (await call(b, 'GET', '/api/media/projects/site/media')).json.files as MediaRecord[];
  assert.is(listed.length, records.length);
});

test('autosave rounds, disjoint and overlapping pages on both servers: nothing lost, usage exact in the database', async () => {
  const [a, b] = two.servers;
  const files = (await call(a, 'GET', '/api/media/projects/site/media')).json.files as MediaRecord[];
  const paths = files.map((f) => f.path);
  assert.ok(paths.length >= 8);
  const pick = (seed: number, n: number): string[] => Array.from({ length: n }, (_, i) => paths[(seed * 7 + i * 3) % paths.length]!);

  for (let round = 0; round < ROUNDS; round++) {
    const acked = new Map<string, unknown>();
    const overlapping = new Map<string, unknown[]>();
    const saves: Array<Promise<void>> = [];
    for (const [k, server] of [a, b].entries()) {
      for (let p = 0; p < 4; p++) {
        const page = `own-${k}-${p}`;
        const body = pageBody(round, pick(round + k * 5 + p, 1 + ((round + p) % 3)));
        saves.push(call(server, 'POST', `/api/projects/site/pages/${page}/content`, body).then((res) => {
          assert.is(res.status, 200, res.text);
          acked.set(page, body);
        }));
      }
      for (const page of ['shared-0', 'shared-1']) {
        // Both servers save the same page at once, naming different files: one of them wins whole.
        const body = { ...pageBody(round, pick(round * 3 + k * 11 + page.length, 2 + k)), by: k };
        overlapping.set(page, [...(overlapping.get(page) ?? []), body]);
        saves.push(call(server, 'POST', `/api/projects/site/pages/${page}/content`, body).then((res) => assert.is(res.status, 200, res.text)));
      }
    }
    await Promise.all(saves);

    const stored = await contentRows(two.database.url, 'site');
    for (const [page, body] of acked) assert.equal(stored.get(page), body, `round ${round}: ${page} as last acknowledged`);
    for (const [page, bodies] of overlapping) {
      assert.ok(bodies.some((body) => JSON.stringify(body) === JSON.stringify(stored.get(page))), `round ${round}: ${page} is one of the two saves, whole`);
    }
    const usage = await usageRows(two.database.url, 'site');
    for (const [source, body] of stored) {
      const named = [...new Set(((body as { blocks: Array<{ src: string }> }).blocks).map((x) => x.src))].sort();
      assert.equal(usage.get(source) ?? [], named, `round ${round}: usage of ${source} is exactly what its content names`);
    }
    assert.equal([...usage.keys()].filter((s) => !stored.has(s)), [], 'no usage for a source without content');
  }
});

test('a name whose file is still in the blob dir (a deleted record being removed) is not claimed', async () => {
  const [a] = two.servers;
  // What a delete on another server leaves for a moment: the record is gone, its bytes not yet.
  const lingering = join(two.blobDir, 'projects', 'site', 'uploads', 'images', 'lingering.png');
  const old = Buffer.from('bytes of a deleted record, removal still pending');
  await writeFile(lingering, old);
  const res = await upload(a, 'site', [{ filename: 'lingering.png', data: await raster('png', 40, 20, 7) }]);
  assert.is(res.status, 201, res.text);
  assert.is((res.json.processedFiles as MediaRecord[])[0]!.filename, 'lingering-1.png');
  assert.equal(await readFile(lingering), old, 'the lingering file was not replaced');
});

test.run();
