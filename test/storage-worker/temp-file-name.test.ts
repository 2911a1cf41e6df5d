import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { basename, dirname, join } from 'node:path';
import { threadId, Worker } from 'node:worker_threads';
import { makeTempName, parseTempName } from '../../storage-worker/temp-file-name.js';

const T = suite('temp-file-name');

const TARGET = join('/data', 'projects', 'p1', 'uploads', 'media.json');

T('a temp name is a sibling carrying pid, thread id and counter, and parses back', () => {
  const a = makeTempName(TARGET);
  const b = makeTempName(TARGET);
  assert.is(dirname(a), dirname(TARGET));
  assert.match(basename(a), /^media\.json\.tmp\.\d+\.\d+\.\d+\.[0-9a-f]{8}$/);
  const pa = parseTempName(basename(a));
  const pb = parseTempName(basename(b));
  assert.ok(pa && pb);
  assert.is(pa.target, 'media.json');
  assert.is(pa.pid, process.pid);
  assert.is(pa.threadId, threadId);
  assert.is(pb.seq, pa.seq + 1);
});

T('names that are not ours do not parse', () => {
  for (const name of [
    'media.json',
    '.media.json.tmp', // steno's fixed name
    'media.json.tmp.1700000000000', // the old timestamp scheme
    'media.json.tmp.1.2.3',
    'media.json.tmp.1.2.3.zz12zz12',
    'media.json.bak',
    '.tmp.1.2.3.abcdef12', // no target
  ]) {
    assert.is(parseTempName(name), null, name);
  }
  assert.equal(parseTempName('media.json.bak.tmp.42.0.7.0123abcd'), {
    target: 'media.json.bak',
    pid: 42,
    threadId: 0,
    seq: 7,
  });
});

T('2,000 names from concurrent calls plus 2 worker threads at once are all distinct', async () => {
  const perWorker = 2000;
  const shared = new Int32Array(new SharedArrayBuffer(8));
  Atomics.store(shared, 1, 2); // two workers meet at the barrier
  const url = new URL('./fixtures/temp-name-worker.js', import.meta.url);
  const workers = [0, 1].map(() => new Worker(url, { workerData: { target: TARGET, count: perWorker, barrier: shared } }));
  try {
    const fromWorkers = workers.map(
      (w) =>
        new Promise<string[]>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
        }),
    );
    // Meanwhile this thread makes 2,000 names from concurrent async tasks.
    const local = await Promise.all(
      Array.from({ length: 2000 }, async (_, i) => {
        if (i % 7 === 0) await Promise.resolve();
        return makeTempName(TARGET);
      }),
    );
    const [w1, w2] = await Promise.all(fromWorkers);
    const all = [...local, ...w1!, ...w2!];
    assert.is(all.length, 6000);
    assert.is(new Set(all).size, all.length, 'no name repeats');
    const threads = new Set(all.map((n) => parseTempName(basename(n))?.threadId));
    assert.is(threads.size, 3, 'each thread stamps its own thread id');
    // Within one thread the pid and thread id are equal, so the counter alone keeps them apart.
    const seqs = new Set(w1!.map((n) => parseTempName(basename(n))?.seq));
    assert.is(seqs.size, perWorker);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});

T.run();
