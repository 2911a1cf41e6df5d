/**
 * A content batch's exact marks (its trim) ride in the next batch's first
 * media.json write when that batch is already queued (project-store.ts,
 * CarriedTrim). What must hold: the carried callers are answered only once
 * that write is durable, before the carrier's own content files; the
 * carrier's operations see the exact marks (a delete of a file the page just
 * dropped succeeds); a carrier that fails fails the carried callers too, with
 * no file a page uses left unmarked; and another process reading right after
 * an acknowledgment sees exact marks.
 *
 * The second operation is queued from inside the first one's `apply`, so it
 * is in the queue while the first batch runs — deterministically, with no
 * timing involved.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { StorageClient } from '../../client/storage-client.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import * as ops from '../../storage-worker/media-operations.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import pino from 'pino';
import { realFs } from '../../storage-worker/fs-seam.js';
import type { Operation } from '../../storage-worker/operation.js';
import { ProjectStore } from '../../storage-worker/project-store.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { ObservedFs } from '../helpers/observed-fs.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { openStore, type StoreUnderTest } from '../helpers/store-harness.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('trim pipelining');

type Doc = { files: MediaRecord[] };

async function withStore(fn: (s: StoreUnderTest, records: MediaRecord[], faults: FaultyFs) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('trim-pipe');
  const faults = new FaultyFs();
  const s = await openStore(dir, 'p', new ObservedFs(faults));
  try {
    const records = await s.store.enqueue(ops.addMedia(makeImageRecords(3)));
    await fn(s, records, faults);
  } finally {
    s.fs.before = null;
    faults.clear();
    await s.store.close();
    await removeTempDir(dir);
  }
}

/**
 * Saves `home` (now naming `path`) and, from inside that batch, queues
 * `next`: the batch that carries the save's trim. Resolves once both have
 * settled, so a wrong answer fails the test instead of going unhandled; each
 * result comes back as a promise to await or to expect a rejection from.
 */
async function saveAndCarry<R>(store: ProjectStore, path: string, next: () => Promise<R>): Promise<{ home: Promise<unknown>; carrier: Promise<R> }> {
  let carrier: Promise<R> | undefined;
  const home = store.enqueue(queueingAfter(save('home', path), () => (carrier = next())));
  await home.catch(() => undefined);
  assert.ok(carrier, 'the next operation was queued while the save\'s batch ran');
  await carrier.catch(() => undefined);
  return { home, carrier };
}

/** `op`, which queues more work (`then`) while its own batch runs. */
function queueingAfter<R>(op: Operation<R>, then: () => void): Operation<R> {
  return {
    kind: op.kind,
    ...(op.contentSource === undefined ? {} : { contentSource: op.contentSource }),
    async apply(draft, content, store) {
      const result = await op.apply(draft, content, store);
      then();
      return result;
    },
  };
}

const save = (source: string, ...paths: string[]) =>
  ops.saveContent(source, JSON.stringify({ blocks: paths.map((src) => ({ src })) }), paths);

const usedIn = (doc: Doc, id: string) => [...(doc.files.find((f) => f.id === id)?.usedIn ?? [])].sort();

/** A second store on the same project, with its own cache (as another process has): it reads what the disk holds. */
async function openReader(projectDir: string): Promise<ProjectStore> {
  const reader = new ProjectStore('p', projectDir, {
    fs: realFs,
    logger: pino({ level: 'silent' }),
    counters: new WorkerCounters(),
    lockTimeoutMs: 10_000,
    staleLockMs: 10_000,
    isThreadAlive: () => true,
  });
  await reader.open();
  return reader;
}

/** Every version of media.json the store renames into place, with the log index at which it was about to be. */
function recordVersions(s: StoreUnderTest): Array<{ at: number; doc: Doc }> {
  const versions: Array<{ at: number; doc: Doc }> = [];
  s.fs.before = async (op, path, dest) => {
    if (op === 'rename' && dest === s.mediaPath) versions.push({ at: s.fs.log.length, doc: parseMediaDocument(await readFile(path, 'utf8')) });
  };
  return versions;
}

test('a carried trim is durable, and the nonce replaced, before its callers are answered; the carrier\'s content files come after', readable(() =>
  withStore(async (s, [a, b, c]) => {
    const { store, fs, mediaPath } = s;
    await store.enqueue(save('home', a!.path));
    const reader = await openReader(s.projectDir);
    const versions = recordVersions(s);
    const from = fs.log.length;
    let about!: Promise<unknown>;
    const home = store.enqueue(
      queueingAfter(save('home', b!.path), () => {
        about = store.enqueue(save('about', c!.path)).then(() => fs.mark('about answered'));
      }),
    );
    // The other reader looks the moment home's caller is answered; should that
    // happen before the media.json rename that carries the trim, the rename
    // waits for the look, so an early answer is seen, not raced.
    let readerLook: Promise<Doc> | null = null;
    const record = s.fs.before!;
    s.fs.before = async (op, path, dest) => {
      if (op === 'rename' && dest === mediaPath && readerLook) await readerLook;
      await record(op, path, dest);
    };
    await home.then(() => {
      fs.mark('home answered');
      readerLook = reader.read().then((r) => r.state.doc);
    });
    const seen = await readerLook!;
    assert.equal(usedIn(seen, a!.id), [], 'a reader with its own cache, right after the answer, sees A unmarked');
    assert.equal(usedIn(seen, b!.id), ['home'], 'and B marked');
    await about;

    const homeFile = store.contentPath('home');
    const homeRenamed = fs.indexOf((e) => e.op === 'rename' && e.dest === homeFile, from);
    const answered = fs.indexOf((e) => e.op === 'mark' && e.path === 'home answered', from);
    assert.ok(homeRenamed >= 0 && answered > homeRenamed, 'home.json was replaced before its caller was answered');
    const carrier = versions.find((v) => v.at > homeRenamed);
    assert.ok(carrier, 'a media.json version followed the content file');
    assert.equal(usedIn(carrier.doc, a!.id), [], 'that version holds home\'s exact marks: A dropped');
    assert.equal(usedIn(carrier.doc, b!.id), ['home']);
    assert.equal(usedIn(carrier.doc, c!.id), ['about'], 'and the next batch\'s union on top: one write for both');
    const renamed = fs.indexOf((e) => e.op === 'rename' && e.dest === mediaPath, carrier.at);
    const dirSynced = fs.indexOf((e) => e.op === 'fsync' && e.path === dirname(mediaPath), renamed);
    const published = fs.indexOf((e) => e.op === 'rename' && e.dest === `${mediaPath}.gen`, renamed);
    assert.ok(renamed >= 0 && dirSynced > renamed && dirSynced < answered, 'its rename and directory fsync came before the answer');
    assert.ok(published > renamed && published < answered, 'the generation nonce was replaced before the answer');
    const aboutRenamed = fs.indexOf((e) => e.op === 'rename' && e.dest === store.contentPath('about'), from);
    assert.ok(aboutRenamed > answered, 'home\'s caller did not wait for the carrier\'s own content files');
    assert.ok(fs.indexOf((e) => e.op === 'mark' && e.path === 'about answered', from) > aboutRenamed);
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.equal([usedIn(disk, a!.id), usedIn(disk, b!.id), usedIn(disk, c!.id)], [[], ['home'], ['about']]);
    assert.equal((await store.read()).state.doc, disk, 'memory equals disk');
    await reader.close();
  }),
));

test('a delete in the carrier batch of a file the previous save dropped succeeds', readable(() =>
  withStore(async (s, [a, b]) => {
    const { store, fs } = s;
    await store.enqueue(save('home', a!.path));
    const versions = recordVersions(s);
    const from = fs.log.length;
    let deleted!: Promise<{ deleted: MediaRecord[]; inUse: unknown[] }>;
    await store.enqueue(
      queueingAfter(save('home', b!.path), () => {
        deleted = store.enqueue(ops.deleteMedia([a!.id]));
      }),
    );
    const result = await deleted;
    assert.equal(result.inUse, [], 'A is not in use once home dropped it');
    assert.equal(result.deleted.map((r) => r.id), [a!.id]);
    const homeRenamed = fs.indexOf((e) => e.op === 'rename' && e.dest === store.contentPath('home'), from);
    const carrier = versions.find((v) => v.at > homeRenamed);
    assert.ok(carrier, 'a media.json version followed the content file');
    assert.ok(!carrier.doc.files.some((f) => f.id === a!.id), 'the delete went out in the write that carried the trim');
    assert.equal(usedIn(carrier.doc, b!.id), ['home']);
  }),
));

test('a content scan made before the carried batch\'s renames is not applied as current in the carrier (no unmarked file in use)', readable(() =>
  withStore(async (s, [a, b]) => {
    const { store, mediaPath } = s;
    await store.enqueue(save('home', a!.path));
    // Read and scanned outside the lock, as a refresh does: home uses A.
    const scan = await store.scanContent();
    let refreshed!: Promise<unknown>;
    await store.enqueue(
      queueingAfter(save('home', b!.path), () => {
        refreshed = store.enqueue(ops.refreshUsage('withFiles', scan));
      }),
    );
    await refreshed;
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.equal(usedIn(disk, b!.id), ['home'], 'home.json uses B: B stays marked (the old scan was read again, not trusted)');
    assert.equal(usedIn(disk, a!.id), [], 'and A, which it no longer uses, is not');
  }),
));

test('a carrier whose write fails fails the carried callers too, and leaves no file a page uses unmarked', readable(() =>
  withStore(async (s, [a, b, c], faults) => {
    const { store, fs, mediaPath } = s;
    await store.enqueue(save('home', a!.path));
    const homeFile = store.contentPath('home');
    // Once home.json is in place, the next media.json rename (the carrier's) fails.
    fs.before = (op, _path, dest) => {
      if (op === 'rename' && dest === homeFile) {
        fs.before = null;
        faults.inject([{ op: 'rename', pathEndsWith: join('uploads', 'media.json'), code: 'EIO', times: 1 }]);
      }
    };
    const outcome = await saveAndCarry(store, b!.path, () => store.enqueue(ops.updateMetadata(c!.id, { caption: 'carrier' })));
    const homeError = await rejection(outcome.home);
    const otherError = await rejection(outcome.carrier);
    assert.is(faults.fired, 1, 'the fault fired once: on the carrier\'s write');
    assert.is(homeError.code, 'STORAGE_IO', 'the carried save is not confirmed');
    assert.is(otherError.code, 'STORAGE_IO', 'nor is the carrier\'s own operation');
    assert.equal(JSON.parse(await readFile(homeFile, 'utf8')), { blocks: [{ src: b!.path }] }, 'home.json was replaced');
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.equal(usedIn(disk, b!.id), ['home'], 'the file home.json now uses is marked (the union stays)');
    assert.is(disk.files.find((f) => f.id === c!.id)!.metadata.caption, undefined, 'nothing of the carrier is on disk');
    assert.equal((await store.read()).state.doc, disk, 'memory equals disk');
    // The store goes on, and the next save of the source trims the union.
    await store.enqueue(save('home', b!.path));
    const after = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.equal([usedIn(after, a!.id), usedIn(after, b!.id)], [[], ['home']]);
  }),
));

test('a carrier that finds the lock taken over fails the carried save with LOCK_LOST and runs its own batch again', readable(() =>
  withStore(async (s, [a, b, c]) => {
    const { store, fs, mediaPath } = s;
    await store.enqueue(save('home', a!.path));
    const homeFile = store.contentPath('home');
    const lockPath = `${mediaPath}.lock`;
    // Right as home.json is renamed, the lock becomes another holder's: one
    // that is dead (a pid no process has), so the re-run can take it over.
    fs.before = async (op, _path, dest) => {
      if (op === 'rename' && dest === homeFile) {
        fs.before = null;
        const stamp = JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number; nonce: string };
        await writeFile(lockPath, `${JSON.stringify({ ...stamp, pid: 4_194_303, nonce: [...stamp.nonce].reverse().join('') })}\n`);
      }
    };
    const outcome = await saveAndCarry(store, b!.path, () => store.enqueue(ops.updateMetadata(c!.id, { caption: 'carrier' })));
    const homeError = await rejection(outcome.home);
    assert.is(homeError.code, 'LOCK_LOST', 'the carried save is not confirmed: its exact marks could be stale under a new holder');
    await outcome.carrier.catch((err: unknown) =>
      assert.unreachable(`the carrier published nothing before the fence: it ran again under a fresh lock (got ${String(err)})`),
    );
    const disk = parseMediaDocument(await readFile(mediaPath, 'utf8'));
    assert.equal(usedIn(disk, b!.id), ['home'], 'the file home.json uses is marked');
    assert.is(disk.files.find((f) => f.id === c!.id)!.metadata.caption, 'carrier');
    assert.equal((await store.read()).state.doc, disk, 'memory equals disk');
  }),
));

test('another process reading right after each acknowledgment of pipelined saves sees exact marks', async () => {
  const dir = await makeTempDir('trim-pipe-2p');
  const writer = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  const reader = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  let overMarks = 0;
  let underMarks = 0;
  try {
    await writer.createProject({ name: 'p', id: 'p' });
    const files = await writer.addMedia('p', makeImageRecords(20));
    const PAGES = 16; // more saves than one batch answers: the next batch is queued while one runs
    await Promise.all(
      Array.from({ length: PAGES }, async (_, p) => {
        const page = `page-${p}`;
        for (let round = 0; round < 6; round++) {
          const file = files[(p + round) % files.length]!;
          await writer.saveContent('p', page, { image: file.path });
          const used = (await reader.listMedia('p')).files.filter((r) => (r.usedIn ?? []).includes(page)).map((r) => r.id);
          if (!used.includes(file.id)) underMarks++;
          overMarks += used.filter((id) => id !== file.id).length;
        }
      }),
    );
  } finally {
    await writer.close();
    await reader.close();
    await removeTempDir(dir);
  }
  assert.is(underMarks, 0, 'a page that was saved marks its file');
  assert.is(overMarks, 0, 'a page that was re-saved no longer marks its old file');
});

test.run();
