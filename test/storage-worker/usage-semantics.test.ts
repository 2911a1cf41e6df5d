/**
 * Usage semantics end to end through the storage client: what a save marks,
 * what a re-save unmarks, how sources stay independent, page deletion and a
 * full refresh from the content files on disk.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { globalSource, THEME_SOURCE, type MediaRecord } from '../../shared/media-types.js';
import { StorageClient } from '../../client/storage-client.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

interface Ctx {
  dir: string;
  client: StorageClient;
  files: MediaRecord[];
}

const test = suite<Ctx>('usage semantics', { dir: '', client: undefined as never, files: [] });

test.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('usage');
  ctx.client = await StorageClient.start({ dataDir: ctx.dir, logLevel: 'silent' });
  await ctx.client.createProject({ name: 'p', id: 'p' });
  ctx.files = await ctx.client.addMedia('p', makeImageRecords(8));
});

test.after.each(async (ctx) => {
  await ctx.client.close();
  await removeTempDir(ctx.dir);
});

async function usedIn(ctx: Ctx, i: number): Promise<string[]> {
  return (await ctx.client.usage('p', ctx.files[i]!.id)).usedIn;
}

test('widget settings, block settings, seo image with and without slash, richtext size variant, links, nested arrays', async (ctx) => {
  const f = ctx.files;
  const page = {
    widgets: [
      { type: 'hero', settings: { background: f[0]!.path }, blocks: [{ settings: { image: f[1]!.path } }] },
      { type: 'text', settings: { html: `<p>Look <img src="${f[2]!.sizes.medium!.path}" alt=""> here.</p>` } },
      { type: 'button', settings: { link: { url: f[3]!.path, target: '_blank' } } },
      { type: 'gallery', settings: { items: [[{ src: f[4]!.path }], [[{ src: f[4]!.path }]]] } },
    ],
    seo: { og_image: f[5]!.path.slice(1) },
  };
  const saved = await ctx.client.saveContent('p', 'home', page);
  assert.equal(saved.fileIds.sort(), [f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!].map((r) => r.id).sort());
  for (const i of [0, 1, 2, 3, 4, 5]) assert.equal(await usedIn(ctx, i), ['home'], `file ${i}`);
  assert.equal(await usedIn(ctx, 6), []);
  const seoWithSlash = await ctx.client.saveContent('p', 'about', { seo: { og_image: f[6]!.path } });
  assert.equal(seoWithSlash.fileIds, [f[6]!.id]);
});

test('duplicates count once and paths of unknown files are ignored', async (ctx) => {
  const f = ctx.files;
  const res = await ctx.client.saveContent('p', 'home', {
    a: f[0]!.path,
    b: [f[0]!.path, `${f[0]!.path}.`],
    c: '/uploads/images/no-such-file.jpg',
    d: '/uploads/other/x.jpg',
  });
  assert.equal(res.fileIds, [f[0]!.id]);
  assert.equal(await usedIn(ctx, 0), ['home']);
});

test('a re-save removes stale usage; page and global sources are independent', async (ctx) => {
  const f = ctx.files;
  await ctx.client.saveContent('p', 'home', { img: f[0]!.path });
  await ctx.client.saveContent('p', globalSource('header'), { logo: f[0]!.path });
  await ctx.client.saveContent('p', THEME_SOURCE, { favicon: f[1]!.path });
  assert.equal((await usedIn(ctx, 0)).sort(), ['global:header', 'home']);
  await ctx.client.saveContent('p', 'home', { img: f[2]!.path });
  assert.equal(await usedIn(ctx, 0), ['global:header'], 'home no longer uses file 0; the header still does');
  assert.equal(await usedIn(ctx, 2), ['home']);
  assert.equal(await usedIn(ctx, 1), ['global:theme-settings']);
  await ctx.client.saveContent('p', 'global:header', { logo: null });
  assert.equal(await usedIn(ctx, 0), [], 'global:header is not prefixed twice and its save replaced its usage');
  assert.ok(JSON.parse(await readFile(join(ctx.dir, 'projects/p/pages/global/header.json'), 'utf8')));
  assert.equal(JSON.parse(await readFile(join(ctx.dir, 'projects/p/theme.json'), 'utf8')), { favicon: f[1]!.path });
});

test('deleting a page removes its file and its usage; unknown pages are PAGE_NOT_FOUND', async (ctx) => {
  const f = ctx.files;
  await ctx.client.saveContent('p', 'home', { img: f[0]!.path });
  await ctx.client.saveContent('p', 'about', { img: f[0]!.path });
  assert.equal((await ctx.client.listPages('p')).sort(), ['about', 'home']);
  await ctx.client.deleteContent('p', 'home');
  assert.equal(await usedIn(ctx, 0), ['about']);
  assert.equal(await ctx.client.listPages('p'), ['about']);
  try {
    await ctx.client.readContent('p', 'home');
    assert.unreachable('read of a deleted page');
  } catch (err) {
    assert.is((err as StorageError).code, 'PAGE_NOT_FOUND');
  }
  try {
    await ctx.client.deleteContent('p', 'home');
    assert.unreachable('delete of a deleted page');
  } catch (err) {
    assert.is((err as StorageError).code, 'PAGE_NOT_FOUND');
  }
});

test('a full refresh rebuilds all usage from the content files on disk', async (ctx) => {
  const f = ctx.files;
  await ctx.client.saveContent('p', 'home', { img: f[0]!.path });
  await ctx.client.saveContent('p', 'about', { img: f[1]!.path });
  // Files changed behind the service's back (restored from a backup, say):
  await writeFile(join(ctx.dir, 'projects/p/pages/home.json'), JSON.stringify({ img: f[3]!.path }));
  await rm(join(ctx.dir, 'projects/p/pages/about.json'));
  await writeFile(join(ctx.dir, 'projects/p/pages/global/footer.json'), JSON.stringify({ x: `<img src="${f[4]!.sizes.thumb!.path}">` }));
  const res = await ctx.client.refreshUsage('p');
  assert.equal(res, { sources: 2, filesInUse: 2 });
  assert.equal(await usedIn(ctx, 0), []);
  assert.equal(await usedIn(ctx, 1), []);
  assert.equal(await usedIn(ctx, 3), ['home']);
  assert.equal(await usedIn(ctx, 4), ['global:footer']);
});

test('a file in use cannot be deleted: it is reported in use and its record stays', async (ctx) => {
  const f = ctx.files;
  await ctx.client.saveContent('p', 'home', { img: f[0]!.path });
  const res = await ctx.client.deleteMedia('p', [f[0]!.id]);
  assert.equal(res.deleted, []);
  assert.equal(res.inUse, [{ id: f[0]!.id, filename: f[0]!.filename, usedIn: ['home'] }]);
  assert.equal(await usedIn(ctx, 0), ['home'], 'the record is still there, still marked');
});

test('a save racing a delete never leaves a used file deleted, whichever commits first', async (ctx) => {
  const f = ctx.files;
  const outcomes = { deletedFirst: 0, inUse: 0 };
  for (let round = 0; round < 20; round++) {
    const target = f[round % 8]!;
    // Sent in the same tick, they reach the worker in this order and are
    // applied in arrival order: alternating the order makes both branches run
    // (with the delete always sent first, it always won: the in-use branch never ran).
    const saveFirst = round % 2 === 0;
    const save = () => ctx.client.saveContent('p', `race-${round}`, { img: target.path });
    const del = () => ctx.client.deleteMedia('p', [target.id]);
    const [saveResult, delResult] = saveFirst
      ? await Promise.all([save(), del()])
      : await Promise.all([del(), save()]).then(([d, s]) => [s, d] as const);
    const deleted = delResult.deleted.some((d) => d.id === target.id);
    if (deleted) {
      outcomes.deletedFirst++;
      assert.equal(saveResult.fileIds, [], `round ${round}: the delete committed first, so the save matched nothing`);
      ctx.files[round % 8] = (await ctx.client.addMedia('p', makeImageRecords(1, `again-${round}`)))[0]!;
    } else {
      outcomes.inUse++;
      assert.equal(saveResult.fileIds, [target.id], `round ${round}: the save used the file`);
      assert.equal(delResult.inUse.map((u) => u.id), [target.id], `round ${round}: the delete reported it in use`);
      assert.ok((await ctx.client.usage('p', target.id)).usedIn.includes(`race-${round}`), `round ${round}: still marked`);
      await ctx.client.deleteContent('p', `race-${round}`); // free it for a later round
    }
  }
  console.log(`    delete/save race: ${outcomes.deletedFirst} deleted first, ${outcomes.inUse} refused as in use`);
  assert.ok(outcomes.deletedFirst > 0 && outcomes.inUse > 0, `both orders ran: ${JSON.stringify(outcomes)}`);
});

test('a content file that cannot be written fails its save alone, leaves no temp file, and never under-marks', async () => {
  const dir = await makeTempDir('usage-fault');
  const client = await StorageClient.start({ dataDir: dir, logLevel: 'silent', enableFaultInjection: true });
  try {
    await client.createProject({ name: 'p', id: 'p' });
    const [a, b] = await client.addMedia('p', makeImageRecords(2));
    await client.saveContent('p', 'home', { img: a!.path });
    await client.injectFaults([{ op: 'rename', code: 'EIO', pathIncludes: 'home.json' }]);
    const [home, about] = await Promise.allSettled([
      client.saveContent('p', 'home', { img: b!.path }),
      client.saveContent('p', 'about', { img: b!.path }),
    ]);
    assert.is(home.status, 'rejected');
    assert.is(((home as PromiseRejectedResult).reason as StorageError).code, 'STORAGE_IO');
    assert.is(about.status, 'fulfilled', 'the other save of the same batch still lands');
    await client.clearFaults();
    // home.json still holds the old content (a), so a must still be marked; b may be over-marked.
    assert.equal(JSON.parse(await readFile(join(dir, 'projects/p/pages/home.json'), 'utf8')), { img: a!.path });
    assert.ok((await client.usage('p', a!.id)).usedIn.includes('home'), 'the file the page still shows stays marked');
    const { readdir } = await import('node:fs/promises');
    assert.equal((await readdir(join(dir, 'projects/p/pages'))).filter((n) => n.includes('.tmp.')), []);
    await client.saveContent('p', 'home', { img: b!.path });
    assert.equal((await client.usage('p', a!.id)).usedIn, []);
    assert.equal((await client.usage('p', b!.id)).usedIn.sort(), ['about', 'home']);
  } finally {
    await client.close();
    await removeTempDir(dir);
  }
});

test.run();
