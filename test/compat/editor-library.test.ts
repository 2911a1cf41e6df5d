/**
 * The editor's own data directory, opened through the real StorageClient
 * (worker thread, real files). Everything is checked from the bytes on disk.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, MediaRecord } from '../../shared/media-types.js';
import { StorageClient } from '../../client/storage-client.js';
import { BAKERY_ID, PORTFOLIO_ID, writeEditorDataDir, type EditorDataDir } from '../fixtures/editor-data.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

interface Ctx {
  dir: string;
  data: EditorDataDir;
  client: StorageClient;
}

const test = suite<Ctx>('editor library through the StorageClient', {} as Ctx);

test.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('compat');
  ctx.data = await writeEditorDataDir(ctx.dir);
  ctx.client = await StorageClient.start({ dataDir: ctx.dir, logLevel: 'silent' });
});
test.after.each(async (ctx) => {
  await ctx.client.close();
  await removeTempDir(ctx.dir);
});

const text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** Every file under `dir` with its bytes (lock files, which only live during a commit, left out). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (!e.name.endsWith('.lock')) out.set(relative(dir, full), (await readFile(full)).toString('base64'));
    }
  };
  await walk(dir);
  return out;
}

/** A record's text span as JSON.stringify(doc, null, 2) lays it out inside `files`. */
function span(rec: unknown): string {
  return `    ${JSON.stringify(rec, null, 2).replace(/\n/g, '\n    ')}`;
}

test('every library opens as it is: the list is the file, byte for byte, unknown fields and all', async ({ client, data }) => {
  for (const project of data.projects) {
    const onDisk = await readFile(project.mediaJson, 'utf8');
    assert.is(text(await client.listMediaJson(project.id)), onDisk, `${project.folderName}: list bytes`);
    assert.equal(await client.listMedia(project.id), JSON.parse(onDisk), `${project.folderName}: list`);
  }
  const hero = (await client.getMedia(BAKERY_ID, data.bakery.media.hero!.id)) as MediaRecord & { focalPoint?: unknown; aiTags?: unknown };
  assert.equal(hero.focalPoint, { x: 0.5, y: 0.31 });
  assert.equal(hero.aiTags, ['bread', 'bakery']);
  assert.equal(hero.sizes.thumb, { path: '/uploads/images/hero-thumb.png', width: 150, height: 84 });
  const intro = await client.getMedia(BAKERY_ID, data.bakery.media.intro!.id);
  assert.is(intro.thumbnail, null);
  assert.not.ok('width' in intro);
  const pdf = await client.getMedia(BAKERY_ID, data.bakery.media.menuPdf!.id);
  assert.not.ok('usedIn' in pdf, 'a record no usage code touched keeps no usedIn key');
});

test('opening and reading write nothing: every byte of the data directory is unchanged', async ({ client, data, dir }) => {
  const before = await snapshot(dir);
  for (const project of data.projects) {
    await client.listMedia(project.id);
    await client.listMediaJson(project.id);
    await client.getProject(project.id);
    await client.listPages(project.id);
    for (const media of Object.values(project.media)) {
      await client.getMedia(project.id, media.id);
      await client.usage(project.id, media.id);
    }
  }
  await client.readContent(BAKERY_ID, 'home');
  await client.readContent(BAKERY_ID, 'global:header');
  await client.listProjects();
  const after = await snapshot(dir);
  assert.equal([...after.keys()].sort(), [...before.keys()].sort(), 'no file appeared or vanished');
  for (const [name, bytes] of before) assert.is(after.get(name), bytes, `${name} unchanged`);
});

test('usage: absent usedIn is [], the editor pages count (og_image without its slash too, once computed)', async ({ client, data }) => {
  const m = data.bakery.media;
  const usedIn = async (key: string) => (await client.usage(BAKERY_ID, m[key]!.id)).usedIn;
  assert.equal(await usedIn('hero'), ['home']);
  assert.equal(await usedIn('logo'), ['global:header']);
  assert.equal(await usedIn('intro'), ['about']);
  assert.equal(await usedIn('menuPdf'), []);
  assert.equal(await usedIn('og'), [], 'as the editor left it: never marked');
  const result = await client.refreshUsage(BAKERY_ID);
  assert.is(result.filesInUse, 4);
  assert.equal(await usedIn('og'), ['about'], 'seo.og_image "uploads/images/og.jpg" names og.jpg');
  assert.equal(await usedIn('hero'), ['home']);
  const doc = JSON.parse(await readFile(data.bakery.mediaJson, 'utf8')) as MediaDocument;
  const byId = new Map(doc.files.map((f) => [f.id, f]));
  assert.equal(byId.get(m.og!.id)!.usedIn, ['about'], 'on disk: the key appeared once usage was set');
  assert.not.ok('usedIn' in byId.get(m.menuPdf!.id)!, 'on disk: a record whose usage never changed still has no key');
  assert.not.ok('usedIn' in byId.get(m.unused!.id)!);
});

test('a metadata edit changes only that record: every other record keeps its exact text span', async ({ client, data }) => {
  const original = await readFile(data.bakery.mediaJson, 'utf8');
  const m = data.bakery.media;
  // The first write also carries the usage reconciliation: og.jpg gains its
  // mark (about's og_image); every other editor record keeps its bytes.
  await client.updateMetadata(BAKERY_ID, m.jingle!.id, { title: 'Jingle “final”' });
  const first = await readFile(data.bakery.mediaJson, 'utf8');
  for (const rec of (JSON.parse(original) as MediaDocument).files) {
    if (rec.id === m.jingle!.id || rec.id === m.og!.id) continue;
    assert.ok(first.includes(span(rec)), `record ${rec.filename} kept its bytes (key order, unknown fields, escapes)`);
  }
  // A later edit: the file differs by that one record, exactly.
  const doc = JSON.parse(first) as MediaDocument;
  const hero = doc.files.find((f) => f.id === m.hero!.id)!;
  await client.updateMetadata(BAKERY_ID, hero.id, { alt: 'Loaves, warm' });
  const second = await readFile(data.bakery.mediaJson, 'utf8');
  assert.is(second, first.replace(span(hero), span({ ...hero, metadata: { ...hero.metadata, alt: 'Loaves, warm' } })));
});

test('the editor folders outside uploads/ (menus/, theme/, pages) are untouched by writes', async ({ client, data }) => {
  const names = ['menus/main.json', 'theme/overrides.css', 'theme.json', 'pages/home.json', 'pages/about.json', 'pages/global/header.json'];
  const before = await Promise.all(names.map((n) => readFile(join(data.bakery.dir, n))));
  await client.refreshUsage(BAKERY_ID);
  await client.updateMetadata(BAKERY_ID, data.bakery.media.hero!.id, { alt: 'new alt' });
  await client.setUsage(BAKERY_ID, 'contact', [data.bakery.media.menuPdf!.path]);
  const after = await Promise.all(names.map((n) => readFile(join(data.bakery.dir, n))));
  names.forEach((n, i) => assert.ok(after[i]!.equals(before[i]!), `${n} unchanged`));
});

test('projects: UUIDs resolve to their folders; a folder name of a registered project is the same project; a folder without entry opens by name', async ({ client, data }) => {
  const bakery = await client.getProject(BAKERY_ID);
  assert.equal(bakery, { id: BAKERY_ID, folder: 'bakery-site', name: 'Bakery', createdAt: '2025-11-02T09:14:00.000Z' });
  assert.equal(await client.getProject('bakery-site'), bakery);
  const legacy = await client.getProject('legacy-site');
  assert.is(legacy.id, 'legacy-site');
  assert.is(legacy.folder, 'legacy-site');
  const list = await client.listProjects();
  assert.equal(list.map((p) => p.id).sort(), [BAKERY_ID, PORTFOLIO_ID, 'legacy-site'].sort(), 'each project once, under its UUID if registered');
  // The alias and the UUID share one open project: a write through one is seen through the other.
  await client.updateMetadata('bakery-site', data.bakery.media.hero!.id, { alt: 'via folder name' });
  assert.is((await client.getMedia(BAKERY_ID, data.bakery.media.hero!.id)).metadata.alt, 'via folder name');
  const err = await rejection(client.getProject('f0000000-0000-4000-8000-000000000000'));
  assert.is(err.code, 'PROJECT_NOT_FOUND');
});

test('creating a project registers it in projects.json, keeping every other entry and field', async ({ client, data, dir }) => {
  const before = JSON.parse(await readFile(data.projectsJson, 'utf8')) as { projects: Array<Record<string, unknown>> };
  const made = await client.createProject({ name: 'New Shop' });
  assert.is(made.id, 'new-shop');
  assert.is(made.folder, 'new-shop');
  const after = await readFile(data.projectsJson, 'utf8');
  const parsed = JSON.parse(after) as { projects: Array<Record<string, unknown>> };
  assert.equal(parsed.projects.slice(0, 2), before.projects, 'the editor entries are kept as they were');
  assert.equal(parsed.projects[2], { id: 'new-shop', folderName: 'new-shop', name: 'New Shop', created: made.createdAt, updated: made.createdAt });
  assert.is(after, JSON.stringify(parsed, null, 2), '2-space pretty print, as the editor writes it');
  const media = JSON.parse(await readFile(join(dir, 'projects', 'new-shop', 'uploads', 'media.json'), 'utf8'));
  assert.equal(media, { files: [] });
  // A name whose slug is an editor folder never takes that folder over.
  const clash = await client.createProject({ name: 'Bakery Site' });
  assert.is.not(clash.folder, 'bakery-site');
  assert.is(await readFile(join(data.bakery.dir, 'uploads', 'media.json'), 'utf8'), await readFile(data.bakery.mediaJson, 'utf8'));
  assert.is((await rejection(client.createProject({ name: 'x', id: 'portfolio' }))).code, 'PROJECT_EXISTS');
  assert.is((await rejection(client.createProject({ name: 'x', id: BAKERY_ID }))).code, 'PROJECT_EXISTS');
});

test('a registry write sweeps the temp files of registry writes whose process died', async ({ client, data, dir }) => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid is dead
  const leftover = join(dir, 'projects', `projects.json.tmp.${dead}.0.1.0badf00d`);
  await writeFile(leftover, '{"projects": [');
  const old = new Date(Date.now() - 60_000);
  await utimes(leftover, old, old);
  const before = await readFile(data.projectsJson, 'utf8');
  await client.createProject({ name: 'Swept' });
  assert.not.ok(existsSync(leftover), 'the dead writer\'s temp file is gone');
  assert.ok((await readFile(data.projectsJson, 'utf8')).startsWith(before.slice(0, before.lastIndexOf('}\n  ]'))));
});

test('deleting a registered project removes its entry and keeps the others', async ({ client, data }) => {
  await client.deleteProject(PORTFOLIO_ID);
  const parsed = JSON.parse(await readFile(data.projectsJson, 'utf8')) as { projects: Array<{ id: string }> };
  assert.equal(parsed.projects.map((p) => p.id), [BAKERY_ID]);
  assert.is((await rejection(client.getProject(PORTFOLIO_ID))).code, 'PROJECT_NOT_FOUND');
});

test('two storage threads creating projects at once lose no entry', async ({ dir, data }) => {
  const other = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  const third = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  try {
    const made = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? other : third).createProject({ name: `Race ${i % 4}` })),
    );
    assert.is(new Set(made.map((p) => p.id)).size, 12, 'every create got its own id');
    const parsed = JSON.parse(await readFile(data.projectsJson, 'utf8')) as { projects: Array<{ id: string; folderName: string }> };
    assert.equal(parsed.projects.map((p) => p.id).sort(), [BAKERY_ID, PORTFOLIO_ID, ...made.map((p) => p.id)].sort());
    for (const p of made) assert.ok(parsed.projects.some((e) => e.id === p.id && e.folderName === p.folder));
  } finally {
    await other.close();
    await third.close();
  }
});

test('two processes creating projects at once lose no entry and share no folder', async ({ dir, data }) => {
  const children = ['Shop', 'Shop'].map((prefix) => new JsonLineChild('storage-child-create-projects', [dir, prefix, '6']));
  try {
    for (const child of children) await child.waitFor('ready');
    for (const child of children) child.send('go');
    const made: Array<{ id: string; folder: string }> = [];
    for (const child of children) {
      const done = await child.waitFor('done', 30_000);
      made.push(...(done.projects as Array<{ id: string; folder: string }>));
    }
    assert.is(new Set(made.map((p) => p.folder)).size, 12, 'every create got its own folder');
    const parsed = JSON.parse(await readFile(data.projectsJson, 'utf8')) as { projects: Array<{ id: string; folderName: string }> };
    assert.equal(parsed.projects.map((p) => p.id).sort(), [BAKERY_ID, PORTFOLIO_ID, ...made.map((p) => p.id)].sort());
  } finally {
    for (const child of children) await child.kill();
  }
});

test.run();
