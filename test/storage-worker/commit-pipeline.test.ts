/**
 * Invariants of the commit pipeline (docs/architecture.md, invariants 3–7)
 * that only the file seam's record of operations or the store's counters can
 * show: a ProjectStore in this thread on a real temp dir, with an ObservedFs
 * as its seam (it records each operation and can fail or hold one).
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { makeFsError } from '../../storage-worker/fault-injection.js';
import { LEASE_MS } from '../../storage-worker/lock-lease.js';
import * as ops from '../../storage-worker/media-operations.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { ObservedFs } from '../helpers/observed-fs.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { openStore, type StoreUnderTest } from '../helpers/store-harness.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const Pipeline = suite('commit pipeline');

async function withStore(fn: (s: StoreUnderTest, records: MediaRecord[]) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('pipeline');
  const s = await openStore(dir);
  try {
    const records = await s.store.enqueue(ops.addMedia(makeImageRecords(3)));
    await fn(s, records);
  } finally {
    s.fs.before = null;
    await s.store.close();
    await removeTempDir(dir);
  }
}

const captionOf = (doc: { files: MediaRecord[] }, id: string) => doc.files.find((f) => f.id === id)?.metadata.caption;

Pipeline('an acknowledged write fsynced its temp file, renamed it and fsynced the directory before the promise resolved', readable(() =>
  withStore(async ({ store, fs, mediaPath }, [rec]) => {
    for (let i = 0; i < 5; i++) {
      const from = fs.log.length;
      await store.enqueue(ops.updateMetadata(rec!.id, { caption: `v${i}` })).then(() => fs.mark('resolved'));
      const resolved = fs.indexOf((e) => e.op === 'mark' && e.path === 'resolved', from);
      const rename = fs.indexOf((e) => e.op === 'rename' && e.dest === mediaPath, from);
      assert.ok(rename >= 0 && rename < resolved, `write ${i}: media.json was replaced by rename before the promise resolved`);
      const temp = fs.log[rename]!.path;
      const written = fs.indexOf((e) => e.op === 'write' && e.path === temp, from);
      const tempSync = fs.indexOf((e) => e.op === 'fsync' && e.path === temp, from);
      assert.ok(written >= 0 && tempSync > written && tempSync < rename, `write ${i}: the temp file was fsynced after its write and before the rename`);
      const dirSync = fs.indexOf((e) => e.op === 'fsync' && e.path === dirname(mediaPath), rename);
      assert.ok(dirSync > rename && dirSync < resolved, `write ${i}: the directory was fsynced after the rename and before the promise resolved`);
      assert.is(captionOf(parseMediaDocument(await readFile(mediaPath, 'utf8')), rec!.id), `v${i}`);
    }
  }),
));

Pipeline('a failing commit rejects every operation in it, and memory stays at what is on disk', readable(() =>
  withStore(async ({ store, fs, counters, mediaPath }, records) => {
    const before = await readFile(mediaPath, 'utf8');
    fs.before = (op, path, dest) => {
      if (op === 'rename' && dest === mediaPath) {
        fs.before = null;
        throw makeFsError('EIO', 'rename', path, dest);
      }
    };
    const failedBefore = counters.failedCommits;
    // Queued in one tick: one batch, one commit.
    const settled = await Promise.allSettled(records.map((r, i) => store.enqueue(ops.updateMetadata(r.id, { caption: `lost ${i}` }))));
    assert.equal(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected'], 'every operation of the failed commit is rejected');
    for (const s of settled) assert.is(((s as PromiseRejectedResult).reason as { code: string }).code, 'STORAGE_IO');
    assert.is(counters.failedCommits - failedBefore, 1, 'the three operations were one commit');
    assert.is(await readFile(mediaPath, 'utf8'), before, 'media.json is unchanged');
    const { state } = await store.read();
    for (const r of records) assert.is(captionOf(state.doc, r.id), undefined, 'memory did not run ahead of disk');
    // The store goes on: the next commit works and carries nothing of the failed one.
    await store.enqueue(ops.updateMetadata(records[0]!.id, { alt: 'after' }));
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.is(disk.files.find((f) => f.id === records[0]!.id)!.metadata.alt, 'after');
    for (const r of records) assert.is(captionOf(disk, r.id), undefined);
  }),
));

Pipeline('a directory fsync that fails after the rename: the write is rejected, and memory reloads what the rename put on disk', readable(() =>
  withStore(async ({ store, fs, mediaPath }, [rec, other]) => {
    const uploads = dirname(mediaPath);
    fs.before = (op, path) => {
      if (op === 'fsync' && path === uploads) {
        fs.before = null;
        throw makeFsError('EIO', 'fsync', path);
      }
    };
    const err = await rejection(store.enqueue(ops.updateMetadata(rec!.id, { caption: 'renamed, not synced' })));
    assert.is(err.code, 'STORAGE_IO');
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.is(captionOf(disk, rec!.id), 'renamed, not synced', 'the rename had happened');
    const { state } = await store.read();
    assert.equal(state.doc, disk, 'memory equals disk again');
    // A later commit builds on the reloaded document, not on the stale memory.
    await store.enqueue(ops.updateMetadata(other!.id, { caption: 'next' }));
    const after = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.is(captionOf(after, rec!.id), 'renamed, not synced');
    assert.is(captionOf(after, other!.id), 'next');
  }),
));

Pipeline('a read during a commit waits for it and sees its result', readable(() =>
  withStore(async ({ store, fs, mediaPath }, [rec]) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const renameHeld = new Promise<void>((resolve) => (held = resolve));
    fs.before = async (op, _path, dest) => {
      if (op === 'rename' && dest === mediaPath) {
        fs.before = null;
        held();
        await gate;
      }
    };
    const write = store.enqueue(ops.updateMetadata(rec!.id, { caption: 'in flight' }));
    await renameHeld; // the commit is in flight, its rename not yet done
    const read = store.read().then(({ state }) => captionOf(state.doc, rec!.id));
    release();
    assert.is(await read, 'in flight', 'the read answered with the commit that was in flight when it was made');
    await write;
  }),
));

Pipeline('back-to-back commits share one lock acquisition for at most the lease', readable(() =>
  withStore(async ({ store, fs, mediaPath }, [rec]) => {
    const lockPath = `${mediaPath}.lock`;
    const from = fs.log.length;
    const started = performance.now();
    const COMMITS = 20;
    for (let i = 0; i < COMMITS; i++) await store.enqueue(ops.updateMetadata(rec!.id, { caption: `c${i}` }));
    const elapsed = performance.now() - started;
    const acquisitions = fs.log.slice(from).filter((e) => e.op === 'link' && e.dest === lockPath).length;
    const renames = fs.log.slice(from).filter((e) => e.op === 'rename' && e.dest === mediaPath).length;
    console.log(`  ${COMMITS} back-to-back commits in ${elapsed.toFixed(1)} ms: ${acquisitions} lock acquisitions`);
    assert.is(renames, COMMITS, 'every operation was its own commit');
    // A lease lasts at least LEASE_MS before it is given up, so no more leases
    // can start than fit in the elapsed time (without leases: one per commit).
    assert.ok(acquisitions >= 1, 'the commits took the lock');
    assert.ok(
      acquisitions <= 1 + Math.floor(elapsed / LEASE_MS),
      `${acquisitions} acquisitions in ${elapsed.toFixed(1)} ms: commits within a lease took the lock again`,
    );
  }),
));

Pipeline('a busy store whose lease ran out steps aside for a waiting one instead of taking the lock again at once', readable(async () => {
  const dir = await makeTempDir('pipeline-step-aside');
  const a = await openStore(dir);
  const b = await openStore(dir, 'p', new ObservedFs());
  try {
    const [rec] = await a.store.enqueue(ops.addMedia(makeImageRecords(1)));
    const MAX_A_COMMITS = 1500;
    let bDone = false;
    let aCommits = 0;
    const busyA = (async () => {
      while (!bDone && aCommits < MAX_A_COMMITS) {
        await a.store.enqueue(ops.updateMetadata(rec!.id, { caption: `a${aCommits}` }));
        aCommits++;
      }
    })();
    // Ask right after a took the lock again: b then finds it held for a
    // whole lease and has to wait (and leave its hint).
    const lockPath = `${a.mediaPath}.lock`;
    const acquisitionsOfA = () => a.fs.log.filter((e) => e.op === 'link' && e.dest === lockPath).length;
    const seen = acquisitionsOfA();
    while (acquisitionsOfA() === seen && aCommits < MAX_A_COMMITS) await new Promise((resolve) => setImmediate(resolve));
    const aCommitsWhenBAsked = aCommits;
    const asked = a.fs.log.length;
    await b.store.enqueue(ops.updateMetadata(rec!.id, { alt: 'from b' }));
    const answered = a.fs.log.length;
    bDone = true;
    await busyA;
    // Stepping aside: when a's lease ran out it let b take the lock before
    // taking it again, so a never re-acquired while b waited.
    const aRetook = a.fs.log.slice(asked, answered).filter((e) => e.op === 'link' && e.dest === lockPath).length;
    const hintsTaken = a.fs.log.filter((e) => e.op === 'unlink' && e.path === `${lockPath}.wanted`).length;
    console.log(`  b got the lock after ${aCommits - aCommitsWhenBAsked} commits of a; a took ${hintsTaken} waiter hint(s), took the lock again ${aRetook} time(s) while b waited`);
    assert.ok(aCommits < MAX_A_COMMITS, `b waited until a stopped (${aCommits} commits of a)`);
    assert.is(aRetook, 0, 'a took the lock again while b was waiting for it');
    assert.ok(b.fs.log.some((e) => e.op === 'open' && e.path === `${lockPath}.wanted`), 'b left a waiter hint');
    const disk = parseMediaDocument(await readFile(a.mediaPath, 'utf8'));
    assert.is(disk.files[0]!.metadata.alt, 'from b', "b's update is on disk");
  } finally {
    await a.store.close();
    await b.store.close();
    await removeTempDir(dir);
  }
}));

Pipeline('messages already waiting on the port when an idle store starts a commit join it: an autosave burst is one commit', readable(() =>
  withStore(async ({ store, counters }, records) => {
    // A real MessagePort, as the storage worker receives its calls: three
    // messages posted together are all on the port before the first is handled.
    const { port1, port2 } = new MessageChannel();
    const acks: Array<Promise<unknown>> = [];
    port2.on('message', (m: { id: string; caption: string }) => acks.push(store.enqueue(ops.updateMetadata(m.id, { caption: m.caption }))));
    try {
      const perBurst: number[] = [];
      for (let round = 0; round < 5; round++) {
        // Idle for longer than the post-commit gather looks back (50 ms): only the join can batch them.
        await new Promise((resolve) => setTimeout(resolve, 60));
        const before = counters.commits;
        acks.length = 0;
        for (const r of records) port1.postMessage({ id: r.id, caption: `burst ${round}` });
        while (acks.length < records.length) await new Promise((resolve) => setImmediate(resolve));
        await Promise.all(acks);
        perBurst.push(counters.commits - before);
      }
      assert.equal(perBurst, [1, 1, 1, 1, 1], 'each burst of three went out in a single commit');
    } finally {
      port1.close();
      port2.close();
    }
  }),
));

Pipeline.run();
