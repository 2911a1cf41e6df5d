/**
 * The storage contract every LibraryBackend keeps
 * (storage-worker/library-backend.ts), driven through the seam alone:
 * projects, a project's library, content and usage, with the inputs the
 * service would hand over (validated records, serialised content and the
 * media paths extraction found in it). One suite, run against each backend
 * by its own file:
 *
 *   file-backend.contract.test.ts       a fresh temp dir per test
 *   postgres-backend.contract.test.ts   one server per file, a fresh database per test
 *
 * `defineLibraryContract(name, { makeBackend, before?, after? })`: each test
 * gets a fresh backend over fresh storage with one project in it; the suite
 * drains the backend (as a session's end does) before its `cleanup`.
 */
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NewMediaRecord } from '../../shared/media-types.js';
import type { LibraryBackend, MediaLibrary } from '../../storage-worker/library-backend.js';
import { saveContent, usedIn } from '../helpers/content-saves.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';

export interface ContractBackend {
  backend: LibraryBackend;
  cleanup(): Promise<void>;
}

export interface ContractTarget {
  /** a fresh backend over fresh storage, for one test */
  makeBackend(): Promise<ContractBackend>;
  /** once per file (start a server) */
  before?(): Promise<void>;
  after?(): Promise<void>;
}

interface Ctx {
  backend: LibraryBackend;
  /** the library of a fresh project */
  lib: MediaLibrary;
  projectId: string;
}

function mediaOfType(type: string, name: string): NewMediaRecord {
  const folder = type.startsWith('video/') ? 'videos' : type.startsWith('audio/') ? 'audios' : 'images';
  return {
    id: randomUUID(),
    filename: name,
    originalName: name,
    type,
    size: 10,
    uploaded: new Date().toISOString(),
    path: `/uploads/${folder}/${name}`,
    metadata: {},
    sizes: {},
  };
}

export function defineLibraryContract(name: string, target: ContractTarget): void {
  const test = suite(`library contract: ${name}`);
  if (target.before) test.before(target.before);
  if (target.after) test.after(target.after);

  /** A fresh backend with a fresh project, drained and cleaned up after `fn` whatever happens. */
  const withProject = (fn: (ctx: Ctx) => Promise<void>) =>
    readable(async () => {
      const made = await target.makeBackend();
      try {
        const projectId = `p-${randomUUID().slice(0, 8)}`;
        await made.backend.createProject({ id: projectId, name: 'Project' });
        await fn({ backend: made.backend, lib: await made.backend.library(projectId), projectId });
      } finally {
        try {
          await made.backend.drain();
        } finally {
          await made.cleanup();
        }
      }
    });

  test('projects: create by id or from the name, refuse a taken id, list, get, delete', withProject(async (ctx) => {
    const b = ctx.backend;
    assert.is((await rejection(b.createProject({ id: ctx.projectId, name: 'again' }))).code, 'PROJECT_EXISTS');
    const unique = `My Site ${randomUUID().slice(0, 6)}!`;
    const first = await b.createProject({ name: unique });
    const second = await b.createProject({ name: unique });
    const slug = unique.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-$/, '');
    assert.is(first.id, slug);
    assert.is(second.id, `${slug}-2`);
    assert.is(first.name, unique);
    assert.ok(!Number.isNaN(Date.parse(first.createdAt)), 'createdAt is a date');
    assert.equal(await b.getProject(first.id), first);
    const listed = await b.listProjects();
    assert.ok(listed.some((p) => p.id === first.id) && listed.some((p) => p.id === ctx.projectId));
    await b.deleteProject(first.id);
    assert.not.ok((await b.listProjects()).some((p) => p.id === first.id), 'no longer listed');
    assert.is((await rejection(b.getProject(first.id))).code, 'PROJECT_NOT_FOUND');
    assert.is((await rejection(b.library(first.id))).code, 'PROJECT_NOT_FOUND');
    assert.is((await rejection(b.deleteProject(first.id))).code, 'PROJECT_NOT_FOUND');
    assert.equal(await b.getProject(second.id), second, 'the other project is untouched');
  }));

  test('a deleted project takes its library with it: reads and writes answer PROJECT_NOT_FOUND', withProject(async (ctx) => {
    await ctx.lib.addMedia(makeImageRecords(2));
    await saveContent(ctx.lib, 'home', { a: 1 });
    await ctx.backend.deleteProject(ctx.projectId);
    // The service asks the backend for the library on every call: that answers PROJECT_NOT_FOUND.
    assert.is((await rejection(ctx.backend.library(ctx.projectId))).code, 'PROJECT_NOT_FOUND');
    // A library object held across the delete is refused too. PostgreSQL says PROJECT_NOT_FOUND; the file
    // backend closed the store, and says STORAGE_UNAVAILABLE (a retry then meets PROJECT_NOT_FOUND).
    const refusals = ['PROJECT_NOT_FOUND', 'STORAGE_UNAVAILABLE'];
    assert.ok(refusals.includes((await rejection(ctx.lib.read())).code));
    assert.ok(refusals.includes((await rejection(ctx.lib.addMedia(makeImageRecords(1, 'late')))).code));
    await ctx.backend.createProject({ id: ctx.projectId, name: 'again' });
    const again = await ctx.backend.library(ctx.projectId);
    assert.equal((await again.read()).doc.files, [], 'a project made again under the same id starts empty');
    assert.is(await again.readContent('home'), undefined);
  }));

  test('addMedia: records come back as given, without a usedIn key, in order; read() bytes are the document', withProject(async (ctx) => {
    const records = makeImageRecords(5);
    const added = await ctx.lib.addMedia(records);
    assert.equal(added, records);
    for (const rec of added) assert.not.ok('usedIn' in rec);
    const more = await ctx.lib.addMedia(makeImageRecords(2, 'later'));
    const { doc, json } = await ctx.lib.read();
    assert.equal(doc.files, [...records, ...more], 'stable order: new records last');
    assert.equal(JSON.parse(Buffer.from(json).toString('utf8')), doc);
    assert.equal(await ctx.lib.getMedia(records[2]!.id), records[2]);
    assert.is((await rejection(ctx.lib.getMedia('nope'))).code, 'MEDIA_NOT_FOUND');
  }));

  test('records are kept whole: unknown fields, nested values, NUL, lone surrogates, any Unicode', withProject(async (ctx) => {
    const [rec] = makeImageRecords(1, 'odd');
    const odd = {
      ...rec!,
      metadata: { alt: 'a\u0000b', title: '\ud800 alone', caption: 'ünï 😀', later: { nested: [1, 2.5, null, true] } },
      thumbnail: null,
      width: null,
      futureField: { deep: { list: ['x', { y: 'z' }] } },
    } as unknown as NewMediaRecord;
    await ctx.lib.addMedia([odd]);
    assert.equal(await ctx.lib.getMedia(odd.id), odd);
    assert.equal((await ctx.lib.read()).doc.files, [odd]);
  }));

  test('addMedia refuses a taken id or path (in the library or within the call) and adds nothing', withProject(async (ctx) => {
    const [a, b] = makeImageRecords(2);
    await ctx.lib.addMedia([a!]);
    const before = (await ctx.lib.read()).doc;
    const fresh = () => makeImageRecords(1, `n${randomUUID().slice(0, 6)}`)[0]!;
    const cases: NewMediaRecord[][] = [
      [fresh(), { ...fresh(), id: a!.id }],
      [b!, { ...fresh(), id: b!.id }],
      [fresh(), { ...fresh(), path: a!.path }],
      [fresh(), { ...fresh(), path: a!.sizes.thumb!.path }],
      [{ ...fresh(), sizes: { large: { path: a!.sizes.small!.path, width: 1, height: 1 } } }],
      [b!, { ...fresh(), path: b!.sizes.medium!.path }],
    ];
    for (const [i, records] of cases.entries()) {
      const err = await rejection(ctx.lib.addMedia(records));
      assert.is(err.code, 'INVALID_INPUT', `case ${i}`);
      assert.equal((await ctx.lib.read()).doc, before, `case ${i}: nothing added`);
    }
    assert.is((await ctx.lib.addMedia([b!])).length, 1, 'the refused records did not claim anything');
  }));

  test('a path without its leading slash is the same served path: a second record claiming it is refused', withProject(async (ctx) => {
    const [a, b, c] = makeImageRecords(3, 'slash');
    await ctx.lib.addMedia([a!]);
    const before = (await ctx.lib.read()).doc;
    const bare = (path: string) => path.replace(/^\//, '');
    // in another call, and within one call
    assert.is((await rejection(ctx.lib.addMedia([{ ...b!, path: bare(a!.path) }]))).code, 'INVALID_INPUT');
    assert.is((await rejection(ctx.lib.addMedia([b!, { ...c!, path: bare(b!.path) }]))).code, 'INVALID_INPUT');
    assert.equal((await ctx.lib.read()).doc, before);
  }));

  test('updateMetadata: the fields of the type only, each cut to 5000; unknown id → MEDIA_NOT_FOUND', withProject(async (ctx) => {
    const image = mediaOfType('image/png', 'a.png');
    const video = mediaOfType('video/mp4', 'b.mp4');
    const pdf = mediaOfType('application/pdf', 'c.pdf');
    await ctx.lib.addMedia([image, video, pdf]);
    const patch = { alt: 'A', title: 'T', caption: 'C', description: 'D' };
    assert.equal((await ctx.lib.updateMetadata(image.id, patch)).metadata, { alt: 'A', title: 'T', caption: 'C' });
    assert.equal((await ctx.lib.updateMetadata(video.id, patch)).metadata, { title: 'T', description: 'D' });
    assert.equal((await ctx.lib.updateMetadata(pdf.id, { alt: 'x'.repeat(6000) })).metadata, { alt: 'x'.repeat(5000) });
    assert.equal((await ctx.lib.getMedia(image.id)).metadata, { alt: 'A', title: 'T', caption: 'C' });
    assert.equal((await ctx.lib.updateMetadata(image.id, { title: 'T2' })).metadata, { alt: 'A', title: 'T2', caption: 'C' });
    assert.is((await rejection(ctx.lib.updateMetadata('nope', patch))).code, 'MEDIA_NOT_FOUND');
  }));

  test('saveContent marks by path or variant path, once per source, in first-marked order; a re-save unmarks', withProject(async (ctx) => {
    const f = await ctx.lib.addMedia(makeImageRecords(4));
    const saved = await saveContent(ctx.lib, 'home', { a: f[0]!.path, b: f[1]!.sizes.thumb!.path, c: [f[0]!.path], d: '/uploads/images/none.jpg' });
    assert.is(saved.source, 'home');
    assert.equal(saved.fileIds, [f[0]!.id, f[1]!.id]);
    assert.equal(saved.mediaPaths, [f[0]!.path, f[1]!.sizes.thumb!.path, '/uploads/images/none.jpg']);
    await saveContent(ctx.lib, 'global:header', { logo: f[0]!.path });
    await saveContent(ctx.lib, 'about', { img: f[0]!.sizes.medium!.path });
    assert.equal(await usedIn(ctx.lib, f[0]!.id), ['home', 'global:header', 'about']);
    await saveContent(ctx.lib, 'home', { a: f[0]!.path, e: f[2]!.path });
    assert.equal(await usedIn(ctx.lib, f[0]!.id), ['home', 'global:header', 'about'], 'a source that keeps a file keeps its place');
    const unmarked = await ctx.lib.getMedia(f[1]!.id);
    assert.equal(unmarked.usedIn, [], 'a file usage touched keeps its usedIn key, empty');
    assert.not.ok('usedIn' in (await ctx.lib.getMedia(f[3]!.id)), 'a file usage never touched has no key');
    assert.equal(await ctx.lib.readContent('home'), { a: f[0]!.path, e: f[2]!.path });
    // The seam promises no order (the service sorts): files list pages before globals, PostgreSQL sorts.
    assert.equal((await ctx.lib.contentSources()).sort(), ['about', 'global:header', 'home']);
  }));

  test('deleteMedia: {deleted, inUse, notFound}, duplicates once, used files kept', withProject(async (ctx) => {
    const f = await ctx.lib.addMedia(makeImageRecords(3));
    await saveContent(ctx.lib, 'home', { a: f[1]!.path });
    const result = await ctx.lib.deleteMedia([f[0]!.id, f[1]!.id, 'ghost', f[0]!.id, 'ghost']);
    assert.equal(result.deleted, [f[0]!]);
    assert.equal(result.inUse, [{ id: f[1]!.id, filename: f[1]!.filename, usedIn: ['home'] }]);
    assert.equal(result.notFound, ['ghost']);
    assert.equal((await ctx.lib.read()).doc.files.map((r) => r.id), [f[1]!.id, f[2]!.id]);
    // The freed paths can be claimed again.
    assert.is((await ctx.lib.addMedia([{ ...makeImageRecords(1, 'again')[0]!, path: f[0]!.path }])).length, 1);
    await saveContent(ctx.lib, 'home', {});
    assert.equal((await ctx.lib.deleteMedia([f[1]!.id])).deleted.map((r) => r.id), [f[1]!.id], 'unused now: deleted');
  }));

  test('deleteContent drops the content and its marks; PAGE_NOT_FOUND when there is none', withProject(async (ctx) => {
    const f = await ctx.lib.addMedia(makeImageRecords(2));
    await saveContent(ctx.lib, 'home', { a: f[0]!.path });
    await saveContent(ctx.lib, 'about', { a: f[0]!.path });
    await ctx.lib.deleteContent('home');
    assert.equal(await usedIn(ctx.lib, f[0]!.id), ['about']);
    assert.is(await ctx.lib.readContent('home'), undefined);
    assert.equal(await ctx.lib.contentSources(), ['about']);
    assert.is((await rejection(ctx.lib.deleteContent('home'))).code, 'PAGE_NOT_FOUND');
  }));

  test('setUsage marks without content; refreshUsage rebuilds all usage from the stored content', withProject(async (ctx) => {
    const f = await ctx.lib.addMedia(makeImageRecords(4));
    const set = await ctx.lib.setUsage('global:footer', [f[3]!.path]);
    assert.equal(set, { source: 'global:footer', mediaPaths: [f[3]!.path], fileIds: [f[3]!.id] });
    assert.equal(await usedIn(ctx.lib, f[3]!.id), ['global:footer']);
    assert.is(await ctx.lib.readContent('global:footer'), undefined, 'setUsage writes no content');
    await saveContent(ctx.lib, 'home', { a: f[0]!.path, b: f[1]!.path });
    await saveContent(ctx.lib, 'about', { a: f[1]!.path });
    await ctx.lib.setUsage('home', [f[2]!.path]); // usage now disagrees with home's content
    const refreshed = await ctx.lib.refreshUsage();
    assert.equal(refreshed, { sources: 2, filesInUse: 2 });
    assert.equal(await usedIn(ctx.lib, f[0]!.id), ['home']);
    assert.equal((await usedIn(ctx.lib, f[1]!.id)).sort(), ['about', 'home']);
    assert.equal(await usedIn(ctx.lib, f[2]!.id), []);
    assert.equal(await usedIn(ctx.lib, f[3]!.id), [], 'a source without content uses nothing after a refresh');
  }));

  test('a record added after a save is not marked until content naming it is saved again', withProject(async (ctx) => {
    const [late] = makeImageRecords(1, 'late');
    await saveContent(ctx.lib, 'home', { a: late!.path });
    await ctx.lib.addMedia([late!]);
    assert.not.ok('usedIn' in (await ctx.lib.getMedia(late!.id)));
    await ctx.lib.refreshUsage();
    assert.equal(await usedIn(ctx.lib, late!.id), ['home'], 'refresh finds it in the stored content');
  }));

  test('writes of one process apply in call order: the last of a burst of saves wins, usage follows it', withProject(async (ctx) => {
    const f = await ctx.lib.addMedia(makeImageRecords(20));
    const burst = f.map((rec, i) => saveContent(ctx.lib, 'home', { i, img: rec.path }));
    const titles = f.map((_, i) => ctx.lib.updateMetadata(f[0]!.id, { title: `t${i}` }));
    await Promise.all([...burst, ...titles]);
    assert.equal(await ctx.lib.readContent('home'), { i: 19, img: f[19]!.path });
    assert.equal(await usedIn(ctx.lib, f[19]!.id), ['home']);
    for (const rec of f.slice(0, 19)) assert.equal(await usedIn(ctx.lib, rec.id), [], `${rec.filename} unmarked by the later saves`);
    assert.is((await ctx.lib.getMedia(f[0]!.id)).metadata.title, 't19');
  }));


  // --- from the first contract suite ---------------------------------------------

  test(
    'an unknown project is PROJECT_NOT_FOUND everywhere',
    withProject(async ({ backend }) => {
      assert.is((await rejection(backend.getProject('nope'))).code, 'PROJECT_NOT_FOUND');
      assert.is((await rejection(backend.library('nope'))).code, 'PROJECT_NOT_FOUND');
      assert.is((await rejection(backend.deleteProject('nope'))).code, 'PROJECT_NOT_FOUND');
    }),
  );

  test(
    'a new library is empty, and its JSON bytes are the same document',
    withProject(async ({ lib: library }) => {
      const { doc, json } = await library.read();
      assert.equal(doc, { files: [] });
      assert.equal(JSON.parse(new TextDecoder().decode(json)), doc);
    }),
  );

  test(
    'saved content is read back and listed among the sources; unsaved content is undefined',
    withProject(async ({ lib: library }) => {
      const [a] = await library.addMedia(makeImageRecords(1));
      const header = { logo: a!.path, nested: [{ text: 'Ünïcödé' }] };
      await saveContent(library, 'global:header', header);
      await saveContent(library, 'about', { text: 'no media' });
      assert.equal(await library.readContent('global:header'), header);
      assert.equal((await library.contentSources()).sort(), ['about', 'global:header']);
      assert.is(await library.readContent('never-saved'), undefined);
      assert.equal(await usedIn(library, a!.id), ['global:header']);
    }),
  );

  test.run();
}
