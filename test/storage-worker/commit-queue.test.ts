/**
 * The group-commit queue on its own (storage-worker/commit-queue.ts): what
 * it hands its committer as one batch, and when. The committer here stands
 * in for a project's commit (it records each batch and answers it after a
 * short real wait, as a write would); everything else is the real queue on
 * the real event loop.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { answer, CommitQueue, type BatchCommitter, type Queued } from '../../storage-worker/commit-queue.js';
import { FLUSH, type Operation } from '../../storage-worker/operation.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';

const test = suite('commit queue');

/** An operation that answers its own label. */
const op = (label: string): Operation<string> => ({ kind: label, apply: () => label });

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A committer that records each batch (by kind), runs `during` inside the commit, and answers after `commitMs`. */
function recordingCommitter(commitMs: number, during: (batch: Queued[]) => void = () => undefined) {
  const batches: string[][] = [];
  const counters = new WorkerCounters();
  const committer: BatchCommitter<never> = {
    async commit(batch) {
      batches.push(batch.map((q) => q.op.kind));
      during(batch);
      await new Promise((resolve) => setTimeout(resolve, commitMs));
      for (const q of batch) q.outcome = { ok: true, value: q.op.kind };
      answer(batch, counters);
      return null;
    },
    idle: async () => undefined,
    holdsLock: () => false,
    abandon: () => undefined,
  };
  return { batches, counters, queue: new CommitQueue<never>('p', counters, committer) };
}

test('operations that arrive while a commit runs go out together, in arrival order, in the next single commit', async () => {
  let queueMore = true;
  const more: Array<Promise<unknown>> = [];
  const { batches, queue } = recordingCommitter(5, () => {
    if (!queueMore) return;
    queueMore = false;
    for (const label of ['b', 'c', 'd']) more.push(queue.enqueue(op(label)));
  });
  assert.is(await queue.enqueue(op('a')), 'a', 'the caller gets its operation\'s outcome');
  assert.equal(await Promise.all(more), ['b', 'c', 'd']);
  assert.equal(batches, [['a'], ['b', 'c', 'd']]);
});

test('callers that come back one after another right after their answer share the next commit (the gather)', async () => {
  const { batches, queue } = recordingCommitter(10);
  // Three closed-loop callers; caller i comes back i+1 event-loop turns after
  // its answer: without the gather the first one back would start a commit alone.
  const caller = async (i: number) => {
    for (let round = 0; round < 4; round++) {
      await queue.enqueue(op(`c${i}`));
      for (let t = 0; t <= i; t++) await nextTick();
    }
  };
  await Promise.all([0, 1, 2].map(caller));
  assert.equal(batches.map((b) => b.length), [3, 3, 3, 3], `batches: ${JSON.stringify(batches)}`);
});

test('a read waiting behind a commit is never held back by the gather for returning callers', async () => {
  let read: Promise<unknown> | null = null;
  const { batches, queue } = recordingCommitter(10, (batch) => {
    // The second round of three: a read arrives while it commits.
    if (batch.length === 3 && read === null) read = queue.enqueue(FLUSH);
  });
  const caller = async (i: number) => {
    for (let round = 0; round < 2; round++) {
      await queue.enqueue(op(`c${i}`));
      await nextTick();
    }
  };
  await Promise.all([0, 1, 2].map(caller));
  await read;
  const readBatch = batches.find((b) => b.includes('flush'));
  assert.equal(readBatch, ['flush'], `the read went out alone, at once: ${JSON.stringify(batches)}`);
});

test('a read that arrives during the gather ends it at once', async () => {
  const { batches, queue } = recordingCommitter(10);
  await Promise.all(['a', 'b', 'c'].map((label) => queue.enqueue(op(label))));
  // The queue now gathers for three returning callers; a read comes first,
  // a write one turn later (well inside the gather's bound).
  await nextTick();
  const read = queue.enqueue(FLUSH);
  await nextTick();
  const write = queue.enqueue(op('late'));
  await Promise.all([read, write]);
  assert.equal(batches.slice(1), [['flush'], ['late']], `the read did not wait for the write: ${JSON.stringify(batches)}`);
});

test('close commits what is queued, then refuses new operations with STORAGE_UNAVAILABLE', async () => {
  const { batches, queue } = recordingCommitter(2);
  const pending = [queue.enqueue(op('a')), queue.enqueue(op('b'))];
  assert.is(await queue.close(), 2, 'close reports the operations it committed');
  assert.equal(await Promise.all(pending), ['a', 'b']);
  assert.equal(batches, [['a', 'b']]);
  try {
    await queue.enqueue(op('after'));
    assert.unreachable('an operation after close was accepted');
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).code, 'STORAGE_UNAVAILABLE');
  }
});

test.run();
