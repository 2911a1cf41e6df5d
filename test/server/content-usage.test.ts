/**
 * Content routes (pages, global widgets, theme) and media usage over HTTP:
 * saves set usage, deletes respect it, autosave bursts from several clients
 * end with exactly the usage the saved content implies, and a delete racing
 * a save never removes a file that a committed save uses.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { raster } from '../fixtures/media-samples.js';
import { assertError, processed, send, startServer, uploadsDir, type TestServer } from './harness.js';

const Content = suite('server content and usage');

let server: TestServer;
let files: MediaRecord[] = [];
const P = 'site';

Content.before(async () => {
  server = await startServer('content');
  await server.createProject('Site', P);
  const parts = [];
  // Two images wide enough for a `thumb` variant (so variant paths count as usage), six without.
  for (let i = 0; i < 2; i++) parts.push({ filename: `wide-${i}.png`, data: await raster('png', 200, 100, i) });
  for (let i = 0; i < 6; i++) parts.push({ filename: `pic-${i}.png`, data: await raster('png', 16, 16, i + 10) });
  const res = await server.upload(P, parts);
  assert.is(res.status, 201, res.text);
  files = processed(res);
  assert.is(files.length, 8);
});

Content.after(async () => {
  await server?.close();
});

async function usageOf(fileId: string): Promise<string[]> {
  const res = await server.request('GET', `/api/media/projects/${P}/media/${fileId}/usage`);
  assert.is(res.status, 200, res.text);
  return [...(res.json.usedIn as string[])].sort();
}

async function uploadOne(name: string, seed: number): Promise<MediaRecord> {
  const res = await server.upload(P, [{ filename: name, data: await raster('png', 16, 16, seed) }]);
  assert.is(res.status, 201, res.text);
  return processed(res)[0]!;
}

Content('page save: response shape, usage set, read back, listed', async () => {
  const [a, b] = [files[2]!, files[0]!];
  const page = {
    widgets: [{ type: 'image', settings: { image: a.path }, blocks: [{ settings: { html: `<p><img src="${b.sizes.thumb!.path}"></p>` } }] }],
    seo: { og_image: a.path.slice(1) },
  };
  const res = await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: page });
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['fileIds', 'mediaPaths', 'success']);
  assert.is(res.json.success, true);
  assert.equal(res.json.mediaPaths, [a.path, b.sizes.thumb!.path]);
  assert.equal([...(res.json.fileIds as string[])].sort(), [a.id, b.id].sort());

  const usage = await server.request('GET', `/api/media/projects/${P}/media/${a.id}/usage`);
  assert.equal(usage.json, { fileId: a.id, filename: a.filename, usedIn: ['home'], isInUse: true });
  assert.equal(await usageOf(b.id), ['home']);

  const back = await server.request('GET', `/api/projects/${P}/pages/home`);
  assert.is(back.status, 200);
  assert.equal(back.json, page);
  const list = await server.request('GET', `/api/projects/${P}/pages`);
  assert.equal(list.json, { pages: ['home'] });

  // Re-save without the image: its usage is trimmed.
  const again = await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: { widgets: [] } });
  assert.equal(again.json, { success: true, mediaPaths: [], fileIds: [] });
  assert.equal(await usageOf(a.id), []);
  const unused = await server.request('GET', `/api/media/projects/${P}/media/${a.id}/usage`);
  assert.is(unused.json.isInUse, false);
});

Content('a key named __proto__ is content like any other: saved, read back and counted, at every route', async () => {
  // Valid JSON that JSON.parse keeps as an own key; a copy made by assigning keys drops it.
  // A project of its own, so the other tests' pages, widgets and theme are untouched.
  const Q = 'proto-keys';
  await server.createProject('Proto keys', Q);
  const up = await server.upload(Q, [{ filename: 'p.png', data: await raster('png', 16, 16, 99) }]);
  assert.is(up.status, 201, up.text);
  const [file] = processed(up);
  const text = `{"__proto__":{"image":"${file!.path}"},"a":{"__proto__":false}}`;
  const routes = [
    { save: ['POST', `/api/projects/${Q}/pages/proto/content`], read: `/api/projects/${Q}/pages/proto` },
    { save: ['POST', `/api/projects/${Q}/global-widgets/footer`], read: `/api/projects/${Q}/global-widgets/footer` },
    { save: ['PUT', `/api/projects/${Q}/theme-settings`], read: `/api/projects/${Q}/theme-settings` },
  ] as const;
  for (const { save, read } of routes) {
    const res = await server.request(save[0], save[1], { headers: { 'content-type': 'application/json' }, body: Buffer.from(text) });
    assert.is(res.status, 200, res.text);
    assert.equal(res.json.fileIds, [file!.id], `${save[1]}: the path under __proto__ is a use`);
    const back = await server.request('GET', read);
    assert.is(back.text, JSON.stringify(JSON.parse(text)), `${read} reads back what was saved`);
  }
});

Content('page save failures: unknown project 404, bad ids 400, non-object body 400', async () => {
  assertError(await server.request('POST', '/api/projects/nope/pages/home/content', { json: { widgets: [] } }), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('POST', `/api/projects/${P}/pages/global:header/content`, { json: {} }), 400, 'INVALID_ID');
  assertError(await server.request('POST', `/api/projects/${P}/pages/${'x'.repeat(65)}/content`, { json: {} }), 400, 'INVALID_ID');
  assertError(await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: [1, 2] }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: 'text' }), 400, 'INVALID_INPUT');
  assertError(await server.request('GET', `/api/projects/${P}/pages/never-saved`), 404, 'PAGE_NOT_FOUND');
  assertError(await server.request('GET', '/api/projects/nope/pages'), 404, 'PROJECT_NOT_FOUND');
});

Content('global widgets: header and footer set global:<type> usage; other types refused', async () => {
  const f = files[3]!;
  const header = await server.request('POST', `/api/projects/${P}/global-widgets/header`, { json: { settings: { logo: f.path } } });
  assert.is(header.status, 200, header.text);
  assert.equal(header.json, { success: true, source: 'global:header', mediaPaths: [f.path], fileIds: [f.id] });
  const footer = await server.request('POST', `/api/projects/${P}/global-widgets/footer`, { json: { blocks: [{ settings: { image: f.path } }] } });
  assert.equal(footer.json, { success: true, source: 'global:footer', mediaPaths: [f.path], fileIds: [f.id] });
  assert.equal(await usageOf(f.id), ['global:footer', 'global:header']);

  const back = await server.request('GET', `/api/projects/${P}/global-widgets/header`);
  assert.equal(back.json, { settings: { logo: f.path } });
  // Global widgets are not pages.
  const list = await server.request('GET', `/api/projects/${P}/pages`);
  assert.not.ok((list.json.pages as string[]).some((p) => p.includes('header')));

  assertError(await server.request('POST', `/api/projects/${P}/global-widgets/theme-settings`, { json: {} }), 400, 'INVALID_ID');
  assertError(await server.request('POST', `/api/projects/${P}/global-widgets/sidebar`, { json: {} }), 400, 'INVALID_ID');
  assertError(await server.request('POST', '/api/projects/nope/global-widgets/header', { json: {} }), 404, 'PROJECT_NOT_FOUND');

  await server.request('POST', `/api/projects/${P}/global-widgets/header`, { json: {} });
  await server.request('POST', `/api/projects/${P}/global-widgets/footer`, { json: {} });
  assert.equal(await usageOf(f.id), []);
});

Content('theme settings: empty before the first save, saved with global:theme-settings usage', async () => {
  const first = await server.request('GET', `/api/projects/${P}/theme-settings`);
  assert.is(first.status, 200);
  assert.equal(first.json, {});
  const f = files[4]!;
  const theme = { colors: { primary: '#123456' }, background: { image: f.path } };
  const put = await server.request('PUT', `/api/projects/${P}/theme-settings`, { json: theme });
  assert.is(put.status, 200, put.text);
  assert.equal(put.json, { success: true, source: 'global:theme-settings', mediaPaths: [f.path], fileIds: [f.id] });
  assert.equal((await server.request('GET', `/api/projects/${P}/theme-settings`)).json, theme);
  assert.equal(await usageOf(f.id), ['global:theme-settings']);
  assertError(await server.request('PUT', '/api/projects/nope/theme-settings', { json: {} }), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('GET', '/api/projects/nope/theme-settings'), 404, 'PROJECT_NOT_FOUND');
  await server.request('PUT', `/api/projects/${P}/theme-settings`, { json: {} });
  assert.equal(await usageOf(f.id), []);
});

Content('page delete removes the page and its usage; a second delete is 404', async () => {
  const f = files[5]!;
  await server.request('POST', `/api/projects/${P}/pages/about/content`, { json: { widgets: [{ settings: { image: f.path } }] } });
  assert.equal(await usageOf(f.id), ['about']);
  const del = await server.request('DELETE', `/api/projects/${P}/pages/about`);
  assert.is(del.status, 200, del.text);
  assert.equal(Object.keys(del.json).sort(), ['message', 'success']);
  assert.is(del.json.success, true);
  assert.equal(await usageOf(f.id), []);
  assertError(await server.request('GET', `/api/projects/${P}/pages/about`), 404, 'PAGE_NOT_FOUND');
  assertError(await server.request('DELETE', `/api/projects/${P}/pages/about`), 404, 'PAGE_NOT_FOUND');
  assertError(await server.request('DELETE', '/api/projects/nope/pages/about'), 404, 'PROJECT_NOT_FOUND');
});

Content('refresh-usage rebuilds usage from the saved content', async () => {
  const f = files[6]!;
  await server.request('POST', `/api/projects/${P}/pages/contact/content`, { json: { widgets: [{ settings: { image: f.path } }] } });
  const res = await server.request('POST', `/api/media/projects/${P}/refresh-usage`);
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['filesInUse', 'message', 'sources', 'success']);
  assert.is(res.json.success, true);
  assert.type(res.json.message, 'string');
  assert.ok((res.json.sources as number) >= 1);
  assert.ok((res.json.filesInUse as number) >= 1);
  assert.equal(await usageOf(f.id), ['contact']);
  assertError(await server.request('POST', '/api/media/projects/nope/refresh-usage'), 404, 'PROJECT_NOT_FOUND');
  await server.request('DELETE', `/api/projects/${P}/pages/contact`);
});

Content('usage of unknown file or project is 404; bad file id is 400', async () => {
  assertError(await server.request('GET', `/api/media/projects/${P}/media/00000000-0000-0000-0000-000000000000/usage`), 404, 'MEDIA_NOT_FOUND');
  assertError(await server.request('GET', `/api/media/projects/nope/media/${files[0]!.id}/usage`), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('GET', `/api/media/projects/${P}/media/bad.id/usage`), 400, 'INVALID_ID');
});

Content('autosave bursts: page + header + footer in parallel, several clients, many rounds → exact usedIn', async () => {
  const CLIENTS = 3;
  const ROUNDS = 20;
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  // Each reference is written in one of the shapes the editor produces.
  const reference = (f: MediaRecord, i: number): unknown => {
    const variant = f.sizes.thumb;
    switch (i % 4) {
      case 0:
        return { settings: { image: f.path } };
      case 1:
        return { settings: { html: `<p>See <img src="${variant ? variant.path : f.path}" alt="x">.</p>` } };
      case 2:
        return { blocks: [{ settings: { link: { url: f.path.slice(1) } } }] };
      default:
        return { settings: { gallery: [[f.path]] } };
    }
  };
  const pick = (): MediaRecord[] => files.filter(() => random() < 0.35);
  // `ids` lets the check below know what a read-back document references (ids are not paths: usage ignores them).
  const doc = (chosen: MediaRecord[], tag: string) => ({ tag, ids: chosen.map((f) => f.id), widgets: chosen.map((f, i) => reference(f, i)) });

  const agents = Array.from({ length: CLIENTS }, () => new http.Agent({ keepAlive: true }));
  try {
    await Promise.all(
      agents.map(async (agent, c) => {
        for (let r = 0; r < ROUNDS; r++) {
          const tag = `c${c}-r${r}`;
          const results = await Promise.all([
            send(server.port, 'POST', `/api/projects/${P}/pages/page-${c}/content`, { agent, json: doc(pick(), tag) }),
            send(server.port, 'POST', `/api/projects/${P}/global-widgets/header`, { agent, json: doc(pick(), tag) }),
            send(server.port, 'POST', `/api/projects/${P}/global-widgets/footer`, { agent, json: doc(pick(), tag) }),
          ]);
          for (const res of results) assert.is(res.status, 200, res.text);
        }
      }),
    );
  } finally {
    for (const a of agents) a.destroy();
  }

  // What the saved content implies: read each source back and collect the file ids it references.
  const sources: Array<[string, string]> = [
    ...Array.from({ length: CLIENTS }, (_, c): [string, string] => [`page-${c}`, `/api/projects/${P}/pages/page-${c}`]),
    ['global:header', `/api/projects/${P}/global-widgets/header`],
    ['global:footer', `/api/projects/${P}/global-widgets/footer`],
  ];
  const expected = new Map<string, Set<string>>(files.map((f) => [f.id, new Set<string>()]));
  for (const [source, url] of sources) {
    const res = await server.request('GET', url);
    assert.is(res.status, 200, res.text);
    assert.match(String(res.json.tag), /^c\d-r\d+$/);
    if (source.startsWith('page-')) assert.is(res.json.tag, `${source.replace('page-', 'c')}-r${ROUNDS - 1}`);
    for (const id of res.json.ids as string[]) expected.get(id)!.add(source);
  }
  const media = await server.request('GET', `/api/media/projects/${P}/media`);
  let checked = 0;
  for (const record of media.json.files as MediaRecord[]) {
    const want = expected.get(record.id);
    if (!want) continue;
    // Sources from earlier tests (home) no longer reference anything; only these sources can.
    assert.equal([...(record.usedIn ?? [])].sort(), [...want].sort(), `usedIn of ${record.filename}`);
    checked += 1;
  }
  assert.is(checked, files.length);

  // Leave the sources empty for the delete tests below.
  for (const [source, url] of sources) {
    const saveUrl = source.startsWith('page-') ? `${url}/content` : url;
    await server.request('POST', saveUrl, { json: {} });
  }
});

Content('delete while in use: 409 with usedIn, record and binaries kept', async () => {
  const f = files[0]!;
  await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: { hero: f.sizes.thumb!.path } });
  const res = await server.request('DELETE', `/api/media/projects/${P}/media/${f.id}`);
  assertError(res, 409, 'MEDIA_IN_USE');
  assert.equal(res.json.usedIn, ['home']);
  assert.is(res.json.fileId, f.id);
  assert.is(res.json.filename, f.filename);
  const dir = uploadsDir(server, P);
  assert.ok(existsSync(join(dir, 'images', f.filename)));
  assert.ok(existsSync(join(dir, 'images', f.sizes.thumb!.filename!)));
  assert.is((await server.request('GET', `/api/media/projects/${P}/media/${f.id}/usage`)).status, 200);
  await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: {} });
});

Content('delete unused: 200, record gone, original and variants removed; then 404', async () => {
  const f = files[1]!;
  const dir = uploadsDir(server, P);
  assert.ok(existsSync(join(dir, 'images', f.sizes.thumb!.filename!)));
  const res = await server.request('DELETE', `/api/media/projects/${P}/media/${f.id}`);
  assert.is(res.status, 200, res.text);
  assert.equal(res.json, { success: true, message: `${f.filename} deleted`, fileId: f.id, filename: f.filename });
  assert.not.ok(existsSync(join(dir, 'images', f.filename)));
  assert.not.ok(existsSync(join(dir, 'images', f.sizes.thumb!.filename!)));
  assertError(await server.request('GET', `/api/media/projects/${P}/media/${f.id}/usage`), 404, 'MEDIA_NOT_FOUND');
  assertError(await server.request('DELETE', `/api/media/projects/${P}/media/${f.id}`), 404, 'MEDIA_NOT_FOUND');
  assertError(await server.request('DELETE', `/api/media/projects/nope/media/${f.id}`), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('DELETE', `/api/media/projects/${P}/media/..%2F..%2Fproject.json`), 400, 'INVALID_ID');
  files = files.filter((x) => x.id !== f.id);
});

Content('delete racing a page save that starts using the file: never a deleted file that a save used', async () => {
  const dir = uploadsDir(server, P);
  const outcomes = { deleted: 0, kept: 0 };
  for (let i = 0; i < 25; i++) {
    const f = await uploadOne(`race-${i}.png`, i);
    // Alternate which request leaves first and stagger the other by 0–3 ms,
    // so both commit orders occur.
    const lag = (first: boolean): Promise<void> => (first ? Promise.resolve() : sleep(i % 4));
    const deleteFirst = i % 2 === 0;
    const [del, save] = await Promise.all([
      lag(deleteFirst).then(() => server.request('DELETE', `/api/media/projects/${P}/media/${f.id}`)),
      lag(!deleteFirst).then(() => server.request('POST', `/api/projects/${P}/pages/race/content`, { json: { widgets: [{ settings: { image: f.path } }] } })),
    ]);
    assert.is(save.status, 200, save.text);
    const saveUsed = (save.json.fileIds as string[]).includes(f.id);
    const record = await server.request('GET', `/api/media/projects/${P}/media/${f.id}/usage`);
    if (del.status === 200) {
      outcomes.deleted += 1;
      assert.not.ok(saveUsed, `iteration ${i}: the save used ${f.id} but the delete removed it`);
      assert.is(record.status, 404);
      assert.not.ok(existsSync(join(dir, 'images', f.filename)));
    } else {
      outcomes.kept += 1;
      assertError(del, 409, 'MEDIA_IN_USE');
      assert.ok(saveUsed, `iteration ${i}: 409 although the save did not use the file`);
      assert.equal(record.json.usedIn, ['race']);
      assert.ok(existsSync(join(dir, 'images', f.filename)));
      // Free it again so the next iteration starts from the same state.
      await server.request('POST', `/api/projects/${P}/pages/race/content`, { json: {} });
      assert.is((await server.request('DELETE', `/api/media/projects/${P}/media/${f.id}`)).status, 200);
    }
  }
  // Both orders must have happened, or this test proved nothing about the race.
  assert.ok(outcomes.deleted > 0 && outcomes.kept > 0, JSON.stringify(outcomes));
  console.log(`    delete/save race: ${outcomes.deleted} deleted first, ${outcomes.kept} saved first`);
});

Content('bulk delete: used kept, unused deleted with binaries, unknown reported', async () => {
  const dir = uploadsDir(server, P);
  const used = files[2]!;
  const unused = [files[3]!, files[4]!];
  await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: { image: used.path } });
  const unknown = '11111111-2222-3333-4444-555555555555';
  const res = await server.request('POST', `/api/media/projects/${P}/media/bulk-delete`, {
    json: { fileIds: [used.id, unused[0]!.id, unknown, unused[1]!.id, unused[0]!.id] },
  });
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['deleted', 'deletedCount', 'filesInUse', 'message', 'notFound']);
  assert.is(res.json.deletedCount, 2);
  assert.equal([...(res.json.deleted as string[])].sort(), unused.map((f) => f.id).sort());
  assert.equal(res.json.filesInUse, [{ id: used.id, filename: used.filename, usedIn: ['home'] }]);
  assert.equal(res.json.notFound, [unknown]);
  assert.type(res.json.message, 'string');
  for (const f of unused) assert.not.ok(existsSync(join(dir, 'images', f.filename)), f.filename);
  assert.ok(existsSync(join(dir, 'images', used.filename)));

  assertError(await server.request('POST', `/api/media/projects/${P}/media/bulk-delete`, { json: { fileIds: [] } }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', `/api/media/projects/${P}/media/bulk-delete`, { json: { ids: [used.id] } }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', `/api/media/projects/${P}/media/bulk-delete`, { json: { fileIds: ['../x'] } }), 400, 'INVALID_ID');
  assertError(await server.request('POST', '/api/media/projects/nope/media/bulk-delete', { json: { fileIds: [used.id] } }), 404, 'PROJECT_NOT_FOUND');
  await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: {} });
});

Content.run();
