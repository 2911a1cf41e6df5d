/**
 * The lock lease on its own (storage-worker/lock-lease.ts): real lock files
 * in a temp dir, an ObservedFs to count what touched them. Back-to-back
 * commits share one acquisition; the fence holds only while the lock file
 * names the lease; a lease that ran out steps aside for a waiting process;
 * a lease goes on past its time only while nobody waits.
 */
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LEASE_MS, LockLease } from '../../storage-worker/lock-lease.js';
import { waiterHintPath } from '../../storage-worker/project-lock.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { ObservedFs } from '../helpers/observed-fs.js';
import { rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('lock lease');

function leaseOn(mediaPath: string, fs = new ObservedFs()): { lease: LockLease; fs: ObservedFs; takeovers: number[] } {
  const takeovers: number[] = [];
  const lease = new LockLease(mediaPath, {
    fs,
    logger: pino({ level: 'silent' }),
    counters: new WorkerCounters(),
    project: 'p',
    timeoutMs: 2000, // a break that makes a take wait for itself fails fast
    staleMs: 10_000,
    isThreadAlive: () => true,
    onTakeover: async () => {
      takeovers.push(1);
    },
  });
  return { lease, fs, takeovers };
}

async function withDir(fn: (mediaPath: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('lock-lease');
  await mkdir(join(dir, 'uploads'));
  try {
    await fn(join(dir, 'uploads', 'media.json'));
  } finally {
    await removeTempDir(dir);
  }
}

const exists = (path: string) => access(path).then(() => true, () => false);

test('back-to-back takes share one acquisition until the lease ends', () =>
  withDir(async (mediaPath) => {
    const { lease, fs } = leaseOn(mediaPath);
    const acquisitions = () => fs.log.filter((e) => e.op === 'link' && e.dest === lease.lockPath).length;
    assert.is(await lease.take(), false, 'the first take acquires');
    assert.is(await lease.take(), true, 'the second reuses the lease');
    assert.is(await lease.take(), true);
    assert.is(acquisitions(), 1, 'one lock file for three commits');
    await lease.endAfterCommit(false);
    assert.not.ok(lease.held);
    assert.not.ok(await exists(lease.lockPath), 'ending the lease removed the lock file');
    assert.is(await lease.take(), false, 'after the lease ended, a take acquires again');
    assert.is(acquisitions(), 2);
    await lease.end();
  }));

test('the fence passes only while the lock file still names this lease', () =>
  withDir(async (mediaPath) => {
    const { lease } = leaseOn(mediaPath);
    assert.is((await rejection(lease.fence())).code, 'LOCK_LOST', 'no lease: nothing may be published');
    await lease.take();
    await lease.fence();
    // Another process's stamp in the lock file (a takeover this process did not see).
    await writeFile(lease.lockPath, JSON.stringify({ pid: 1, hostname: 'elsewhere', nonce: 'theirs', acquiredAt: new Date().toISOString() }));
    assert.is((await rejection(lease.fence())).code, 'LOCK_LOST', 'a lock file naming someone else fails the fence');
    await lease.end();
  }));

test('a lease ended by its time steps aside for a waiting process before taking the lock again', () =>
  withDir(async (mediaPath) => {
    const a = leaseOn(mediaPath).lease;
    const b = leaseOn(mediaPath).lease;
    const order: string[] = [];
    await a.take();
    const bTook = b.take().then(() => {
      order.push('b');
      return b.end();
    });
    // b waits and leaves its hint.
    while (!(await exists(waiterHintPath(a.lockPath)))) await new Promise((resolve) => setImmediate(resolve));
    await a.endAfterCommit(true);
    const aTook = a.take().then(() => {
      order.push('a');
      return a.end();
    });
    await Promise.all([bTook, aTook]);
    assert.equal(order, ['b', 'a'], 'the waiter had the lock before the holder whose lease ran out took it again');
  }));

test('a lease ended for lack of work takes the lock again without stepping aside', () =>
  withDir(async (mediaPath) => {
    const a = leaseOn(mediaPath);
    await a.lease.take();
    await writeFile(waiterHintPath(a.lease.lockPath), '');
    await a.lease.endAfterCommit(false);
    assert.is(await a.lease.take(), false);
    assert.ok(await exists(waiterHintPath(a.lease.lockPath)), 'the hint was left for its waiter: no step-aside');
    await a.lease.end();
  }));

test('a lease goes on past its time only while nobody has asked for the lock', () =>
  withDir(async (mediaPath) => {
    const { lease, fs } = leaseOn(mediaPath);
    assert.is(await lease.mayHoldOn(), false, 'no lease: nothing to hold on to');
    await lease.take();
    const hint = waiterHintPath(lease.lockPath);
    assert.ok(await lease.mayHoldOn(), 'within its time');
    assert.not.ok(fs.log.some((e) => e.op === 'stat' && e.path === hint), 'within its time the hint is not even looked at');
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 5));
    assert.ok(lease.pastTime());
    assert.ok(await lease.mayHoldOn(), 'past its time with nobody waiting');
    await writeFile(hint, '');
    assert.is(await lease.mayHoldOn(), false, 'past its time with a waiter\'s hint');
    await lease.end();
  }));

test.run();
