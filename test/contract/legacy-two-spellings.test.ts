/**
 * One path rule in both backends: `uploads/a.png` and `/uploads/a.png` are
 * one served path, so a new record may not claim a path another record
 * serves in the other spelling. An editor library that already holds both
 * spellings (written before the rule) must still open and work: only new
 * claims are refused, and the path stays taken while either record holds it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageClient } from '../../client/storage-client.js';
import type { MediaRecord } from '../../shared/media-types.js';
import { DocumentDraft, usageBySourceOf } from '../../storage-worker/document-draft.js';
import { MediaPathIndex } from '../../storage-worker/usage-extraction.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('a legacy library with both spellings of one path');

const bare = (path: string): string => path.replace(/^\//, '');

/** A: `/uploads/images/legacy-0.jpg`; B: the same file without the slash (its own variants). */
function legacyRecords(): { a: MediaRecord; b: MediaRecord } {
  const [a, b] = makeImageRecords(2, 'legacy') as MediaRecord[];
  return { a: a!, b: { ...b!, path: bare(a!.path) } };
}


test('opens, keeps both records, refuses new claims of the path in either spelling', readable(async () => {
  const dir = await makeTempDir('legacy-spellings');
  const { a, b } = legacyRecords();
  const uploads = join(dir, 'projects', 'legacy', 'uploads');
  await mkdir(uploads, { recursive: true });
  // By hand, as the editor wrote it: mediastore never produced this file.
  await writeFile(join(uploads, 'media.json'), JSON.stringify({ files: [a, b] }, null, 2));
  const storage = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  try {
    assert.equal((await storage.listMedia('legacy')).files, [a, b], 'opened as it is');
    // Writes to the library still work: another record's metadata, a page naming the shared path.
    assert.is((await storage.updateMetadata('legacy', b.id, { alt: 'kept' })).metadata.alt, 'kept');
    await storage.saveContent('legacy', 'home', { blocks: [{ src: a.path }] });
    assert.equal((await storage.getMedia('legacy', a.id)).usedIn, ['home']);
    assert.equal((await storage.getMedia('legacy', b.id)).usedIn, ['home'], 'one URL: both records are marked (over-marking is safe)');

    const [c] = makeImageRecords(1, 'newcomer');
    for (const path of [a.path, bare(a.path)]) {
      const err = await rejection(storage.addMedia('legacy', [{ ...c!, path }]));
      assert.is(err.code, 'INVALID_INPUT', path);
      assert.is((err.details as { path?: string } | undefined)?.path, path);
    }
    await storage.saveContent('legacy', 'home', { blocks: [] });
    // With one of the two gone the path is still served by the other: still taken.
    await storage.deleteMedia('legacy', [a.id]);
    assert.is((await rejection(storage.addMedia('legacy', [{ ...c!, path: a.path }]))).code, 'INVALID_INPUT');
    // Both gone: free.
    await storage.deleteMedia('legacy', [b.id]);
    assert.is((await storage.addMedia('legacy', [{ ...c!, path: a.path }])).length, 1);
  } finally {
    await storage.close();
    await removeTempDir(dir);
  }
}));

test('within one batch, removing one of the two records leaves the path taken', () => {
  const { a, b } = legacyRecords();
  const doc = { files: [a, b] };
  const draft = new DocumentDraft({ doc, byId: new Map(doc.files.map((r) => [r.id, r])), index: new MediaPathIndex(doc), usageBySource: usageBySourceOf(doc) });
  draft.remove(a.id);
  assert.ok(draft.pathTaken(a.path), 'taken by B');
  assert.ok(draft.pathTaken(bare(a.path)), 'taken by B, bare spelling');
  draft.remove(b.id);
  assert.not.ok(draft.pathTaken(a.path), 'free once both are removed');
});

test.run();
