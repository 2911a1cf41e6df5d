/**
 * The editor's data directory over HTTP, with the editor's URLs (project
 * UUIDs): a real server on 127.0.0.1, checked from the bytes on disk.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, ProjectInfo } from '../../shared/media-types.js';
import { BAKERY_ID, PORTFOLIO_ID, writeEditorDataDir, type EditorDataDir } from '../fixtures/editor-data.js';
import { mp4, pdf, raster } from '../fixtures/media-samples.js';
import { assertError, processed, startServer, type TestServer } from '../server/harness.js';

const Http = suite('editor data over HTTP');

let server: TestServer;
let data: EditorDataDir;

Http.before(async () => {
  server = await startServer('compat-http');
  data = await writeEditorDataDir(server.dataDir);
});
Http.after(async () => {
  await server?.close();
});

const media = (projectId: string): string => `/api/media/projects/${projectId}`;

Http('GET …/<uuid>/media answers the editor file byte for byte and leaves it so', async () => {
  const onDisk = await readFile(data.bakery.mediaJson);
  const res = await server.request('GET', `${media(BAKERY_ID)}/media`);
  assert.is(res.status, 200, res.text);
  assert.ok(res.body.equals(onDisk), 'the answer is the file');
  const usage = await server.request('GET', `${media(BAKERY_ID)}/media/${data.bakery.media.menuPdf!.id}/usage`);
  assert.equal(usage.json, { fileId: data.bakery.media.menuPdf!.id, filename: 'menu-2026.pdf', usedIn: [], isInUse: false }, 'absent usedIn answers []');
  assert.ok((await readFile(data.bakery.mediaJson)).equals(onDisk), 'reading did not rewrite media.json');
  assert.not.ok(existsSync(join(server.dataDir, 'projects', BAKERY_ID)), 'no folder named by the UUID');
});

Http('the project list shows editor projects under their UUIDs and the folder without entry under its name', async () => {
  const res = await server.request('GET', '/api/projects');
  assert.is(res.status, 200);
  const projects = res.json.projects as ProjectInfo[];
  const byId = new Map(projects.map((p) => [p.id, p]));
  assert.equal(byId.get(BAKERY_ID), { id: BAKERY_ID, folder: 'bakery-site', name: 'Bakery', createdAt: '2025-11-02T09:14:00.000Z' });
  assert.is(byId.get(PORTFOLIO_ID)?.folder, 'portfolio');
  assert.is(byId.get('legacy-site')?.folder, 'legacy-site');
  assert.not.ok(byId.has('bakery-site'), 'a registered folder is not listed a second time');
  const one = await server.request('GET', `/api/projects/${BAKERY_ID}`);
  assert.is(one.status, 200);
  assert.is(one.json.folder, 'bakery-site');
});

Http('binaries are served from the folder the UUID names', async () => {
  const hero = data.bakery.media.hero!;
  const byId = await server.request('GET', `${media(BAKERY_ID)}/media/${hero.id}`);
  assert.is(byId.status, 200);
  assert.is(byId.text, 'editor bytes of images/hero.png');
  const variant = await server.request('GET', `${media(BAKERY_ID)}/uploads/images/hero-thumb.png`);
  assert.is(variant.status, 200);
  assert.is(variant.text, 'editor bytes of images/hero-thumb.png');
  const legacy = await server.request('GET', `${media('legacy-site')}/uploads/images/banner.gif`);
  assert.is(legacy.text, 'editor bytes of images/banner.gif');
  assertError(await server.request('GET', `${media('f0000000-0000-4000-8000-000000000000')}/uploads/images/hero.png`), 404, 'PROJECT_NOT_FOUND');
});

Http('usage over HTTP: refresh computes the editor pages, og_image without its slash included', async () => {
  const og = data.bakery.media.og!;
  assert.equal((await server.request('GET', `${media(BAKERY_ID)}/media/${og.id}/usage`)).json.usedIn, []);
  const refresh = await server.request('POST', `${media(BAKERY_ID)}/refresh-usage`);
  assert.is(refresh.status, 200, refresh.text);
  assert.equal((await server.request('GET', `${media(BAKERY_ID)}/media/${og.id}/usage`)).json.usedIn, ['about']);
  const inUse = await server.request('DELETE', `${media(BAKERY_ID)}/media/${og.id}`);
  assertError(inUse, 409, 'MEDIA_IN_USE');
});

Http('an upload to a UUID lands in its folder, in the editor record shape, and the editor records keep their bytes', async () => {
  const before = await readFile(data.bakery.mediaJson, 'utf8');
  const res = await server.upload(BAKERY_ID, [
    { filename: 'Wide Cake.png', data: await raster('png', 600, 300) },
    { filename: 'clip.mp4', data: mp4() },
    { filename: 'Prices.pdf', data: pdf() },
  ]);
  assert.is(res.status, 201, res.text);
  const [cake, clip, prices] = processed(res);
  assert.is(cake!.path, '/uploads/images/wide-cake.png');
  assert.ok(existsSync(join(data.bakery.dir, 'uploads', 'images', 'wide-cake.png')), 'stored in bakery-site/');
  assert.not.ok(existsSync(join(server.dataDir, 'projects', BAKERY_ID)), 'no folder named by the UUID');
  assert.equal(Object.keys(cake!.sizes), ['thumb', 'small']);
  assert.equal(Object.keys(cake!.sizes.thumb!).slice(0, 3), ['path', 'width', 'height'], 'variants lead with the editor keys');
  assert.equal(cake!.metadata, { alt: '', title: '' });
  assert.equal(clip!.metadata, { title: '', description: '' });
  assert.is(clip!.thumbnail, null);
  assert.not.ok('width' in clip!);
  assert.is(prices!.path, '/uploads/images/prices.pdf', 'a PDF sits in images/, as the editor files it');
  assert.not.ok('usedIn' in cake!);

  const after = await readFile(data.bakery.mediaJson, 'utf8');
  const old = JSON.parse(before) as MediaDocument;
  for (const rec of old.files) {
    assert.ok(after.includes(`    ${JSON.stringify(rec, null, 2).replace(/\n/g, '\n    ')}`), `${rec.filename} kept its bytes`);
  }
});

Http('metadata edit and delete work on a folder without entry; binaries go from its folder', async () => {
  const banner = data.legacy.media.banner!;
  const edit = await server.request('PUT', `${media('legacy-site')}/media/${banner.id}/metadata`, { json: { alt: 'Old banner' } });
  assert.is(edit.status, 200, edit.text);
  const del = await server.request('DELETE', `${media('legacy-site')}/media/${banner.id}`);
  assert.is(del.status, 200, del.text);
  for (const file of banner.files) assert.not.ok(existsSync(join(data.legacy.dir, 'uploads', file)), `${file} removed`);
});

Http("a metadata edit keeps the editor's metadata keys: a PDF has alt and title, like the images it sits with", async () => {
  const pdf = data.bakery.media.menuPdf!;
  const res = await server.request('PUT', `${media(BAKERY_ID)}/media/${pdf.id}/metadata`, { json: { alt: 'Our menu', description: 'not a PDF field' } });
  assert.is(res.status, 200, res.text);
  const doc = JSON.parse(await readFile(data.bakery.mediaJson, 'utf8')) as MediaDocument;
  assert.equal(doc.files.find((f) => f.id === pdf.id)!.metadata, { alt: 'Our menu', title: 'Menu' });
});

Http('creating a project over HTTP registers it for the editor', async () => {
  const res = await server.request('POST', '/api/projects', { json: { name: 'Pop-up Store' } });
  assert.is(res.status, 201, res.text);
  const registry = JSON.parse(await readFile(data.projectsJson, 'utf8')) as { projects: Array<{ id: string; folderName: string }> };
  assert.ok(registry.projects.some((p) => p.id === res.json.id && p.folderName === res.json.folder));
  assert.equal(registry.projects.slice(0, 2).map((p) => p.id), [BAKERY_ID, PORTFOLIO_ID]);
});

Http.run();
