/**
 * A project's content files on their own (storage-worker/content-store.ts):
 * real page, widget and theme files in a temp dir, faults through the
 * FaultyFs seam. Listing and reading, whether a scan made outside the lock
 * is still current, and writing a batch's files (one failing source fails
 * alone; a lost lock fails them all).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import pino from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import type { MediaDocument } from '../../shared/media-types.js';
import { ContentActions } from '../../storage-worker/content-actions.js';
import { ContentStore } from '../../storage-worker/content-store.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { MediaDocumentFile } from '../../storage-worker/media-document-file.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('content store');

const page = (...srcs: string[]) => JSON.stringify({ blocks: srcs.map((src) => ({ src })) });

async function withProject(fn: (p: { dir: string; content: ContentStore; file: MediaDocumentFile; db: Low<MediaDocument>; faults: FaultyFs }) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('content-store');
  await mkdir(join(dir, 'uploads'));
  const faults = new FaultyFs();
  const file = new MediaDocumentFile(join(dir, 'uploads', 'media.json'), faults, { onRetry: () => undefined, onWarning: () => undefined });
  const db = new Low<MediaDocument>(file, { files: [] });
  const content = new ContentStore('p', dir, { fs: faults, logger: pino({ level: 'silent' }), counters: new WorkerCounters(), file });
  try {
    await fn({ dir, content, file, db, faults });
  } finally {
    faults.clear();
    await removeTempDir(dir);
  }
}

test('lists every source with a content file and reads each; a missing or unparsable file uses nothing', readable(() =>
  withProject(async ({ dir, content }) => {
    assert.equal(await content.contentSources(), [], 'a project without page folders has no sources');
    await mkdir(join(dir, 'pages', 'global'), { recursive: true });
    await writeFile(join(dir, 'pages', 'home.json'), page('/uploads/images/a.png'));
    await writeFile(join(dir, 'pages', 'broken.json'), '{ not json');
    await writeFile(join(dir, 'pages', 'notes.txt'), 'not a page');
    await writeFile(join(dir, 'pages', 'global', 'header.json'), page());
    await writeFile(join(dir, 'theme.json'), '{}');
    assert.equal((await content.contentSources()).sort(), ['broken', 'global:header', 'global:theme-settings', 'home']);
    assert.equal(await content.readContentOrNull('home'), JSON.parse(page('/uploads/images/a.png')));
    assert.is(await content.readContentOrNull('broken'), undefined);
    assert.is(await content.readContentOrNull('never-saved'), undefined);
    const scan = await content.scanContent();
    assert.equal(scan.paths.get('home'), ['/uploads/images/a.png']);
    assert.equal(scan.paths.get('broken'), []);
  }),
));

test('a scan is current until a commit replaces the generation, and never while renamed content is unpublished', readable(() =>
  withProject(async ({ content, file, db }) => {
    db.data = { files: [] };
    await db.write();
    await file.publish();
    const scan = await content.scanContent();
    assert.ok(content.isCurrent(scan), 'nothing committed since the scan');
    content.markUnpublished();
    assert.not.ok(content.isCurrent(scan), 'content renamed and the nonce not yet replaced: the scan may predate it');
    content.markPublished();
    assert.ok(content.isCurrent(scan));
    await file.publish(); // a commit (this process's or, through a reload, another's)
    assert.not.ok(content.isCurrent(scan), 'a commit since the scan');
    assert.ok(content.isCurrent(await content.scanContent()), 'a new scan is current again');
  }),
));

test('a batch\'s files are written and removed behind the fence; a source whose file fails fails alone', readable(() =>
  withProject(async ({ dir, content, faults }) => {
    await mkdir(join(dir, 'pages'), { recursive: true });
    await writeFile(join(dir, 'pages', 'old.json'), page());
    const actions = new ContentActions();
    actions.write('home', page('/uploads/images/a.png'), ['a']);
    actions.write('about', page(), []);
    actions.write('global:footer', page(), []); // its folder does not exist yet
    actions.remove('old');
    faults.inject([{ op: 'rename', pathIncludes: 'about.json', code: 'EIO' }]);
    let fenced = 0;
    const failed = await content.apply(actions, async () => {
      fenced++;
    });
    assert.equal([...failed.keys()], ['about'], 'only about failed');
    assert.is(failed.get('about')!.code, 'STORAGE_IO');
    assert.ok(fenced >= 1, 'the renames were fenced');
    assert.is(await readFile(join(dir, 'pages', 'home.json'), 'utf8'), page('/uploads/images/a.png'));
    assert.is(await readFile(join(dir, 'pages', 'global', 'footer.json'), 'utf8'), page(), 'a new folder was made for it');
    assert.is(await content.readContentOrNull('old'), undefined, 'the removed page is gone');
    assert.is(await content.readContentOrNull('about'), undefined, 'the failed page was not written');
  }),
));

test('a lost lock fails the whole batch: nothing is published', readable(() =>
  withProject(async ({ content }) => {
    const actions = new ContentActions();
    actions.write('home', page(), []);
    const error = await rejection(
      content.apply(actions, async () => {
        throw new StorageError('LOCK_LOST', 'taken over');
      }),
    );
    assert.is(error.code, 'LOCK_LOST');
    assert.is(await content.readContentOrNull('home'), undefined, 'the file was not renamed into place');
  }),
));

test.run();
