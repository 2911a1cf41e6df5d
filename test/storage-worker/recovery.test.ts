/**
 * Recovery at open and during service: a corrupt media.json is quarantined
 * and the last good version restored — never replaced by an empty library —
 * and a dead worker thread makes calls fail fast, then service resumes.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { StorageClient } from '../../client/storage-client.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { rejection } from '../helpers/storage-errors.js';

const test = suite('recovery');

const uploads = (dir: string, project = 'p') => join(dir, 'projects', project, 'uploads');

test('a truncated media.json is quarantined and the last good version restored', async () => {
  const dir = await makeTempDir('corrupt');
  try {
    let client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    await client.createProject({ name: 'p', id: 'p' });
    await client.addMedia('p', makeImageRecords(3));
    await client.addMedia('p', makeImageRecords(2, 'second')); // .bak now holds the 3-record version
    await client.close();

    const mediaPath = join(uploads(dir), 'media.json');
    const text = await readFile(mediaPath, 'utf8');
    await writeFile(mediaPath, text.slice(0, Math.floor(text.length / 2))); // a torn write by some other tool

    client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    try {
      const doc = await client.listMedia('p');
      assert.is(doc.files.length, 3, 'restored from media.json.bak (the previous good version), not emptied');
      const names = await readdir(uploads(dir));
      const quarantined = names.filter((n) => n.startsWith('media.json.corrupt-'));
      assert.is(quarantined.length, 1, `one quarantined copy kept: ${names.join(', ')}`);
      assert.is(await readFile(join(uploads(dir), quarantined[0]!), 'utf8'), text.slice(0, Math.floor(text.length / 2)));
      assert.is((await client.stats()).quarantines, 1);
      // The restored library is writable again and on disk.
      await client.addMedia('p', makeImageRecords(1, 'after'));
      assert.is(parseMediaDocument(await readFile(mediaPath, 'utf8')).files.length, 4);
    } finally {
      await client.close();
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('with no good version a corrupt library is refused, kept, and served again once repaired', async () => {
  const dir = await makeTempDir('corrupt-nobak');
  try {
    let client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    await client.createProject({ name: 'p', id: 'p' });
    await client.addMedia('p', makeImageRecords(2));
    await client.close();
    const mediaPath = join(uploads(dir), 'media.json');
    const good = await readFile(mediaPath, 'utf8');
    await writeFile(mediaPath, '{"files": [ {"id": 1');
    await writeFile(`${mediaPath}.bak`, 'not json either');

    client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    try {
      const readErr = await rejection(client.listMedia('p'));
      assert.is(readErr.code, 'CORRUPT_DOCUMENT');
      const writeErr = await rejection(client.addMedia('p', makeImageRecords(1, 'x')));
      assert.is(writeErr.code, 'CORRUPT_DOCUMENT');
      const saveErr = await rejection(client.saveContent('p', 'home', { a: '/uploads/images/img-0.jpg' }));
      assert.is(saveErr.code, 'CORRUPT_DOCUMENT');
      assert.is(await readFile(mediaPath, 'utf8'), '{"files": [ {"id": 1', 'the corrupt file is left in place, not emptied');
      assert.ok((await readdir(uploads(dir))).some((n) => n.startsWith('media.json.corrupt-')), 'a quarantined copy exists');

      // A person repairs the file: the next access sees it and serves it.
      await writeFile(mediaPath, good);
      const doc = await client.listMedia('p');
      assert.is(doc.files.length, 2);
      await client.addMedia('p', makeImageRecords(1, 'y'));
      assert.is((await client.listMedia('p')).files.length, 3);
    } finally {
      await client.close();
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('a missing media.json with a good backup is restored, not started empty', async () => {
  const dir = await makeTempDir('missing');
  try {
    let client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    await client.createProject({ name: 'p', id: 'p' });
    await client.addMedia('p', makeImageRecords(4));
    await client.addMedia('p', makeImageRecords(1, 'z'));
    await client.close();
    const { rm } = await import('node:fs/promises');
    await rm(join(uploads(dir), 'media.json'));
    client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    try {
      assert.is((await client.listMedia('p')).files.length, 4);
    } finally {
      await client.close();
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('a worker killed in the middle of a batch fails the calls in flight fast, restarts, and loses nothing acknowledged', async () => {
  const dir = await makeTempDir('crash');
  const client = await StorageClient.start({ dataDir: dir, logLevel: 'silent', enableFaultInjection: true, callTimeoutMs: 20_000 });
  try {
    await client.createProject({ name: 'p', id: 'p' });
    const acked = await client.addMedia('p', makeImageRecords(5));
    const restarted = new Promise<void>((resolve) => client.once('workerRestart', () => resolve()));
    await client.injectFaults([{ op: 'rename', action: 'crash', pathIncludes: 'media.json', times: 1 }]);
    const started = Date.now();
    const inFlight = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => client.saveContent('p', `page-${i}`, { img: acked[i]!.path })),
    );
    const failedAfterMs = Date.now() - started;
    for (const r of inFlight) {
      assert.is(r.status, 'rejected');
      assert.is(((r as PromiseRejectedResult).reason as StorageError).code, 'STORAGE_UNAVAILABLE');
    }
    assert.ok(failedAfterMs < 5000, `calls in flight failed fast (${failedAfterMs} ms), not at the call deadline`);
    await restarted;
    // Service continues on the new thread, without waiting out the dead thread's lock.
    const t0 = Date.now();
    await client.saveContent('p', 'after', { img: acked[0]!.path });
    assert.ok(Date.now() - t0 < 3000, `the dead worker's lock was not waited out (${Date.now() - t0} ms)`);
    const doc = await client.listMedia('p');
    assert.is(doc.files.length, 5, 'acknowledged records survived');
    assert.equal(doc.files.find((f) => f.id === acked[0]!.id)!.usedIn, ['after']);
    assert.is((await client.stats()).workerRestarts, 1);
    // The live worker may hold the lock a few ms past an answer (a lease over
    // back-to-back commits): look once it has drained and let go.
    await client.close();
    const leftovers = (await readdir(uploads(dir))).filter((n) => n.includes('.tmp.') || n.endsWith('.lock'));
    assert.equal(leftovers, [], 'no temp or lock files of the dead thread remain');
  } finally {
    await client.close();
    await removeTempDir(dir);
  }
});

test('reads are fresh across two storage workers on one data dir', async () => {
  const dir = await makeTempDir('fresh');
  const a = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  const b = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  try {
    await a.createProject({ name: 'p', id: 'p' });
    const [rec] = await a.addMedia('p', makeImageRecords(1));
    assert.is((await b.listMedia('p')).files.length, 1);
    for (let i = 0; i < 30; i++) {
      const writer = i % 2 === 0 ? a : b;
      const reader = i % 2 === 0 ? b : a;
      await writer.updateMetadata('p', rec!.id, { alt: `alt ${i}` });
      assert.is((await reader.getMedia('p', rec!.id)).metadata.alt, `alt ${i}`, `round ${i}`);
    }
    assert.ok((await a.stats()).externalReloads > 0);
  } finally {
    await a.close();
    await b.close();
    await removeTempDir(dir);
  }
});

test('the first write after opening trims marks a killed process left behind (opening itself writes nothing), and leaves file-less usage alone', async () => {
  const dir = await makeTempDir('reconcile');
  try {
    let client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    const [a, b, c] = await (async () => {
      await client.createProject({ name: 'p', id: 'p' });
      return client.addMedia('p', makeImageRecords(3));
    })();
    await client.saveContent('p', 'home', { img: a!.path });
    await client.setUsage('p', 'ghost', [c!.path]); // usage with no content file (internal callers)
    await client.close();
    // What a SIGKILL between acknowledging a save of `home` (marks: old ∪ new)
    // and trimming the old marks leaves on disk: b still marked by home.
    const mediaPath = join(uploads(dir), 'media.json');
    const doc = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    (doc.files.find((f) => f.id === b!.id)!.usedIn ??= []).push('home');
    await writeFile(mediaPath, JSON.stringify(doc, null, 2));

    const leftover = await readFile(mediaPath);
    client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    try {
      // Opening and reading never write media.json (the editor may share the
      // files): the leftover mark is still there, over-marked is the safe side.
      assert.equal((await client.usage('p', b!.id)).usedIn, ['home']);
      assert.ok((await readFile(mediaPath)).equals(leftover), 'opening and reading left media.json as it was');
      // The first write carries the reconciliation, applied before the write itself.
      await client.updateMetadata('p', c!.id, { alt: 'first write' });
      assert.equal((await client.usage('p', a!.id)).usedIn, ['home']);
      assert.equal((await client.usage('p', b!.id)).usedIn, [], 'the leftover mark is gone: home.json does not use b');
      assert.equal((await client.usage('p', c!.id)).usedIn, ['ghost'], 'usage of a source without a content file is kept');
    } finally {
      await client.close();
    }
  } finally {
    await removeTempDir(dir);
  }
});

test.run();
