/**
 * Fencing and liveness of the project lock against adversarial holders:
 * holders in another PID namespace (real `unshare --pid` where the machine
 * allows it, else the identity seam), holders paused with SIGSTOP past the
 * stale limit and resumed, wall-clock steps, and takeovers noticed by the
 * refresh, the release or the fence itself. A paused holder that lost its lock
 * must never publish; a live holder must never be robbed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../shared/errors.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import type { LockClock } from '../../storage-worker/lock-clock.js';
import { claimPath, makeStamp, parseStamp, serializeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { currentProcess } from '../../storage-worker/process-identity.js';
import { ProjectLock, type LockHandle } from '../../storage-worker/project-lock.js';
import { sweepLeftovers } from '../../storage-worker/leftover-sweep.js';
import { mapError } from '../../server/http/error-responder.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { expectLockTimeout } from '../helpers/lock-expectations.js';
import { namingFs } from '../helpers/observed-fs.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { forkedChildPid, PID_NAMESPACE_WRAPPER, pidNamespaceUnavailable } from '../fixtures/lock-namespace.js';

const X = suite('lock-fencing');

// Large enough that a holder descheduled for a while on a busy machine still refreshes in time.
const STALE_MS = 500;

let dir = '';
let lockPath = '';
let dataPath = '';
X.before.each(async () => {
  dir = await makeTempDir('fencing');
  lockPath = join(dir, 'media.json.lock');
  dataPath = join(dir, 'media.json');
});
X.after.each(async () => {
  await removeTempDir(dir);
});

/** How a holder outside our PID namespace is built: for real, or through the identity seam. */
type ForeignKind = 'unshare' | 'seam';

function foreignKinds(): ForeignKind[] {
  const why = pidNamespaceUnavailable();
  if (why !== null) console.log(`    no real PID namespace here (${why}): running the seam-based version only`);
  return why === null ? ['unshare', 'seam'] : ['seam'];
}

interface Holder {
  child: JsonLineChild;
  stamp: LockStamp;
  /** the host pid to SIGSTOP / SIGCONT */
  hostPid: number;
}

async function startHolder(kind: ForeignKind | 'same'): Promise<Holder> {
  const identity = kind === 'seam' ? 'foreign-ns' : 'own';
  const wrapper = kind === 'unshare' ? PID_NAMESPACE_WRAPPER : [];
  const child = new JsonLineChild('lock-fenced-holder', [lockPath, dataPath, String(STALE_MS), identity], wrapper);
  try {
    const held = await child.next('held');
    const stamp = held.stamp as LockStamp;
    const me = currentProcess();
    if (kind === 'same') assert.is(stamp.pidNs, me.pidNs);
    else assert.is.not(stamp.pidNs, me.pidNs, 'the holder stamps another PID namespace');
    if (kind === 'unshare') {
      assert.is.not(held.pidNs, me.pidNs, 'the holder really runs in another PID namespace');
      assert.is(stamp.pid, 1, 'inside its namespace the holder is pid 1 (on the host: init)');
    }
    return { child, stamp, hostPid: kind === 'unshare' ? forkedChildPid(child.pid) : child.pid };
  } catch (err) {
    await child.kill('SIGKILL');
    throw err;
  }
}


async function expectLockLost(handle: LockHandle, reason: 'taken' | 'stalled'): Promise<void> {
  try {
    await handle.assertHeld();
    assert.unreachable('assertHeld should have thrown LOCK_LOST');
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    assert.is(err.code, 'LOCK_LOST', err.message);
    assert.is(err.details?.reason, reason);
  }
  assert.ok(handle.compromised, 'the handle stays compromised');
}

/** Publishes `text` as a commit would: temp, rename. */
async function publishData(text: string): Promise<void> {
  await writeFile(`${dataPath}.tmp`, text);
  await rename(`${dataPath}.tmp`, dataPath);
}

async function lockNonce(): Promise<string | undefined> {
  return parseStamp(await readFile(lockPath))?.nonce;
}

for (const kind of foreignKinds()) {
  X(`[${kind}] a live holder in another PID namespace keeps its lock: no takeover in 3x staleMs, the sweep leaves it, it still publishes`, async () => {
    const holder = await startHolder(kind);
    try {
      await expectLockTimeout(new ProjectLock(lockPath, { staleMs: STALE_MS, timeoutMs: 3 * STALE_MS }));
      const swept = await sweepLeftovers(dir);
      assert.equal(swept.removedLocks, []);
      assert.ok(swept.keptLive.includes('media.json.lock'), `kept: ${swept.keptLive.join(', ')}`);
      assert.is(await lockNonce(), holder.stamp.nonce);
      holder.child.send('publish A');
      assert.is((await holder.child.next('published')).text, 'A');
      holder.child.send('release');
      assert.is((await holder.child.next('released')).compromised, false);
    } finally {
      await holder.child.kill('SIGKILL');
    }
    assert.is(await readFile(dataPath, 'utf8'), 'A');
  });

  for (const takerKeepsIt of [true, false]) {
    const after = takerKeepsIt ? 'while the new holder still holds it' : 'after the new holder released it';
    X(`[${kind}] a holder in another namespace paused past the stale limit is taken over; resumed ${after}, it does not publish`, async () => {
      const holder = await startHolder(kind);
      let waiter: LockHandle | undefined;
      try {
        process.kill(holder.hostPid, 'SIGSTOP');
        waiter = await new ProjectLock(lockPath, { staleMs: STALE_MS, timeoutMs: 10 * STALE_MS }).acquire();
        assert.is(waiter.tookOver, true);
        assert.ok(waiter.waitedMs >= STALE_MS, `taken over after ${waiter.waitedMs} ms of watching, staleMs ${STALE_MS}`);
        await publishData('B'); // the new holder's acknowledged commit
        if (!takerKeepsIt) await waiter.release();
        holder.child.send('publish A'); // queued while the old holder is paused
        process.kill(holder.hostPid, 'SIGCONT');
        const refused = await holder.child.next('refused');
        assert.is(refused.code, 'LOCK_LOST');
        if (takerKeepsIt) {
          await waiter.assertHeld(); // the old holder's resumption did not disturb the new one
          assert.is(await lockNonce(), waiter.stamp.nonce);
        }
      } finally {
        await waiter?.release();
        await holder.child.kill('SIGKILL');
      }
      assert.is(await readFile(dataPath, 'utf8'), 'B', 'the acknowledged commit survived');
    });
  }
}

X('a holder in OUR namespace paused past the stale limit is never taken over; resumed, it proves its lock again and publishes', async () => {
  const holder = await startHolder('same');
  try {
    process.kill(holder.hostPid, 'SIGSTOP');
    const err = await expectLockTimeout(new ProjectLock(lockPath, { staleMs: STALE_MS, timeoutMs: 3 * STALE_MS }));
    assert.is((err.details?.holder as LockStamp).nonce, holder.stamp.nonce);
    holder.child.send('publish A');
    process.kill(holder.hostPid, 'SIGCONT');
    assert.is((await holder.child.next('published')).text, 'A');
    holder.child.send('release');
    assert.is((await holder.child.next('released')).compromised, false);
  } finally {
    process.kill(holder.hostPid, 'SIGCONT');
    await holder.child.kill('SIGKILL');
  }
});

/** A clock whose wall time a test can step; monotonic time runs (or jumps) on its own. */
class SteppedClock implements LockClock {
  wallOffsetMs = 0;
  monotonicOffsetMs = 0;
  monotonic(): number {
    return performance.now() + this.monotonicOffsetMs;
  }
  wall(): number {
    return Date.now() + this.wallOffsetMs;
  }
}

const HOUR = 3_600_000;
/** Stamps as a process in another PID namespace: judged by age only. */
const foreignIdentity = { ...currentProcess(), pid: 1, pidNs: 'pid:[4026599999]' };

X('wall-clock steps on either side (and skew between hosts) never make a live refreshing holder look old', async () => {
  const holderClock = new SteppedClock();
  const waiterClock = new SteppedClock();
  const holder = await new ProjectLock(lockPath, { staleMs: STALE_MS, clock: holderClock, identity: foreignIdentity }).acquire();
  try {
    // The holder's clock lags an hour (its mtimes look an hour old), the waiter's runs an hour ahead ...
    holderClock.wallOffsetMs = -HOUR;
    waiterClock.wallOffsetMs = HOUR;
    // ... then both step the other way mid-wait (the holder's mtimes now come from the future).
    const stepBack = sleep(2 * STALE_MS).then(() => {
      holderClock.wallOffsetMs = HOUR;
      waiterClock.wallOffsetMs = -HOUR;
    });
    await Promise.all([
      expectLockTimeout(new ProjectLock(lockPath, { staleMs: STALE_MS, timeoutMs: 4 * STALE_MS, clock: waiterClock })),
      stepBack,
    ]);
    await holder.assertHeld();
    assert.is(holder.compromised, false);
  } finally {
    await holder.release();
  }
});

X('refresh finding my nonce gone marks the handle compromised; assertHeld then throws LOCK_LOST', async () => {
  const compromised: string[] = [];
  const handle = await new ProjectLock(lockPath, {
    staleMs: 60,
    onCompromised: (i) => compromised.push(`${i.during}/${i.reason}`),
  }).acquire();
  const other = { ...makeStamp(), pid: 4242 };
  await writeFile(`${lockPath}.new`, serializeStamp(other));
  await rename(`${lockPath}.new`, lockPath);
  for (let i = 0; i < 100 && !handle.compromised; i++) await sleep(10);
  assert.equal(compromised, ['refresh/taken']);
  assert.ok(handle.compromised, 'marked by the refresh, before anyone asked');
  await expectLockLost(handle, 'taken');
  await handle.release();
  assert.is(await lockNonce(), other.nonce, 'the new holder\'s lock is left alone');
});

X('release finding my nonce gone marks the handle compromised; assertHeld then throws LOCK_LOST', async () => {
  const handle = await new ProjectLock(lockPath, { staleMs: 60_000 }).acquire();
  await handle.assertHeld();
  await writeFile(`${lockPath}.new`, serializeStamp({ ...makeStamp(), pid: 4242 }));
  await rename(`${lockPath}.new`, lockPath);
  await handle.release();
  assert.ok(handle.compromised);
  await expectLockLost(handle, 'taken');
});

X('assertHeld: one read while fresh; a lock replaced right now is seen at once', async () => {
  const ops: string[] = [];
  const recording = namingFs(ops);
  const handle = await new ProjectLock(lockPath, { staleMs: 60_000, fs: recording }).acquire();
  try {
    ops.length = 0;
    await handle.assertHeld();
    assert.equal(ops, ['readFile']);
    await writeFile(`${lockPath}.new`, serializeStamp({ ...makeStamp(), pid: 4242 }));
    await rename(`${lockPath}.new`, lockPath);
    await expectLockLost(handle, 'taken');
  } finally {
    await handle.release();
  }
});

X('after a stall, assertHeld renews and passes, unless a breaker holds a claim on my lock (then LOCK_LOST)', async () => {
  const clock = new SteppedClock();
  const handle = await new ProjectLock(lockPath, { staleMs: 60_000, clock }).acquire();
  try {
    // A pause longer than the stale limit, as the monotonic clock sees it.
    clock.monotonicOffsetMs += 61_000;
    await handle.assertHeld();
    assert.is(handle.compromised, false, 'nobody touched it: renewed, still ours');
    // Another pause, and this time someone judged the lock stale and holds the claim on it.
    clock.monotonicOffsetMs += 61_000;
    const claim = claimPath(lockPath, handle.stamp.nonce);
    await writeFile(claim, serializeStamp({ ...makeStamp(), ...foreignIdentity }));
    await expectLockLost(handle, 'stalled');
    assert.is(await lockNonce(), handle.stamp.nonce, 'the file is still ours, but it may go any moment');
  } finally {
    await realFs.unlink(claimPath(lockPath, handle.stamp.nonce)).catch(() => undefined);
    await handle.release();
  }
});

X('LOCK_LOST reaches HTTP as a retryable 503 that says the change was not confirmed, without internals', () => {
  const mapped = mapError(new StorageError('LOCK_LOST', 'the media library lock of project p1 was taken over: nothing was published'), 'req-1');
  assert.is(mapped.status, 503);
  assert.is(mapped.body.code, 'LOCK_LOST');
  // Not "nothing was saved": the batch's first commit may be on disk, unconfirmed.
  assert.match(String(mapped.body.error), /not confirmed/);
  assert.is(mapped.headers['Retry-After'], '1');
});

X.run();
