import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StorageError } from '../../shared/errors.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import { claimPath, makeStamp, parseStamp, serializeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { currentProcess } from '../../storage-worker/process-identity.js';
import { CLAIM_STALE_MS } from '../../storage-worker/lock-claim.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { takeWaiterHint, waiterHintPath } from '../../storage-worker/waiter-hint.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { expectLockTimeout } from '../helpers/lock-expectations.js';
import { namingFs } from '../helpers/observed-fs.js';
import { closeAll, JsonLineChild } from '../fixtures/json-line-child.js';

const X = suite('project-lock');

let dir = '';
let lockPath = '';
X.before.each(async () => {
  dir = await makeTempDir('lock');
  lockPath = join(dir, 'media.json.lock');
});
X.after.each(async () => {
  await removeTempDir(dir);
});

/** Plants a lock file atomically (temp + rename), as another process would have left it. */
async function plant(path: string, content: string, ageMs = 0): Promise<void> {
  await writeFile(`${path}.planting`, content);
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    await utimes(`${path}.planting`, t, t);
  }
  await rename(`${path}.planting`, path);
}

function stampOf(overrides: Partial<LockStamp>): LockStamp {
  return { ...makeStamp(), ...overrides };
}

/** A pid that certainly ran and certainly has ended (reaped). */
async function deadPid(): Promise<number> {
  const child = new JsonLineChild('lock-io', []);
  const pid = child.pid;
  await child.exited;
  return pid;
}


X('acquire writes a complete stamp atomically and leaves no temp file; release removes the lock', async () => {
  const handle = await new ProjectLock(lockPath).acquire();
  const onDisk = parseStamp(await readFile(lockPath));
  assert.ok(onDisk, 'the lock file holds a parseable stamp');
  assert.equal(onDisk, handle.stamp);
  const me = currentProcess();
  assert.is(onDisk.pid, process.pid);
  assert.is(onDisk.hostname, hostname());
  assert.is(onDisk.startTime, me.startTime);
  assert.ok(me.startTime !== null, 'start time is known on Linux');
  assert.is(onDisk.threadId, me.threadId);
  assert.ok(Math.abs(Date.parse(onDisk.acquiredAt) - Date.now()) < 5000);
  assert.equal(await readdir(dir), ['media.json.lock'], 'the temp file was unlinked after link()');
  assert.is((await stat(lockPath)).nlink, 1);
  assert.is(handle.tookOver, false);
  assert.ok(await handle.verify());
  await handle.release();
  assert.equal(await readdir(dir), [], 'lock and claim are gone');
  assert.is(await handle.verify(), false);
  await handle.release(); // idempotent
});

X('a waiter in the same process waits for release, then gets the lock', async () => {
  const first = await new ProjectLock(lockPath).acquire();
  let waitedFor: LockStamp | null = null;
  const second = new ProjectLock(lockPath, { timeoutMs: 3000, onWait: (h) => (waitedFor = h) }).acquire();
  await sleep(80);
  await first.release();
  const handle = await second;
  try {
    assert.ok(handle.waitedMs >= 60, `waited ${handle.waitedMs} ms`);
    assert.ok(handle.waitedMs < 1000, `waited ${handle.waitedMs} ms: the poll is too slow`);
    assert.is(handle.tookOver, false);
    assert.is(waitedFor!.nonce, first.stamp.nonce);
  } finally {
    await handle.release();
  }
});

X('pid reuse: a stamp of our own live pid with another start time is dead and taken over at once', async () => {
  const me = currentProcess();
  const reused = stampOf({ startTime: (me.startTime ?? 0) + 12345, threadId: 0 });
  await plant(lockPath, serializeStamp(reused));
  let takenFrom: LockStamp | null = null;
  const handle = await new ProjectLock(lockPath, { timeoutMs: 2000, onTakeover: (h) => (takenFrom = h) }).acquire();
  try {
    assert.is(handle.tookOver, true);
    assert.ok(handle.waitedMs < 500, `waited ${handle.waitedMs} ms`);
    assert.is(takenFrom!.nonce, reused.nonce);
  } finally {
    await handle.release();
  }
});

X('a lock of a dead pid is taken over at once', async () => {
  const pid = await deadPid();
  await plant(lockPath, serializeStamp(stampOf({ pid, startTime: null })));
  const handle = await new ProjectLock(lockPath, { timeoutMs: 2000 }).acquire();
  try {
    assert.is(handle.tookOver, true);
    assert.ok(handle.waitedMs < 500, `waited ${handle.waitedMs} ms`);
  } finally {
    await handle.release();
  }
});

X('a holder on another host is judged by age only, on MY clock: an old mtime alone frees nothing', async () => {
  const remote = stampOf({ hostname: `not-${hostname()}`, pid: 424242 });
  // Written an hour "ago" by a host whose clock lags (or ours runs ahead): not a sign of death.
  await plant(lockPath, serializeStamp(remote), 3_600_000);
  const err = await expectLockTimeout(new ProjectLock(lockPath, { timeoutMs: 150, staleMs: 5000, project: 'p1' }));
  assert.match(err.message, /project p1 is locked by pid 424242 on host not-/);
  // Unchanged for staleMs of the waiter's own watching: taken over.
  const handle = await new ProjectLock(lockPath, { timeoutMs: 2000, staleMs: 300 }).acquire();
  assert.is(handle.tookOver, true);
  assert.ok(handle.waitedMs >= 300, `taken over after ${handle.waitedMs} ms of watching`);
  await handle.release();
});

X('an empty or garbled lock file is stale only once unchanged for staleMs of watching', async () => {
  await plant(lockPath, '', 3_600_000);
  const err = await expectLockTimeout(new ProjectLock(lockPath, { timeoutMs: 150, staleMs: 5000 }));
  assert.match(err.message, /unreadable lock file/);
  assert.is(err.details?.holder, null);
  await plant(lockPath, '{"pid": 12');
  let reported: LockStamp | null | undefined;
  const handle = await new ProjectLock(lockPath, { timeoutMs: 2000, staleMs: 300, onTakeover: (h) => (reported = h) }).acquire();
  assert.is(handle.tookOver, true);
  assert.ok(handle.waitedMs >= 300, `taken over after ${handle.waitedMs} ms of watching`);
  assert.is(reported, null);
  await handle.release();
});

X('a legacy stamp (no boot id, no PID namespace) may come from any namespace: judged by age only', async () => {
  const pid = await deadPid();
  const { bootId: _b, pidNs: _n, ...legacy } = stampOf({ pid, startTime: null });
  await plant(lockPath, serializeStamp(legacy as LockStamp));
  await expectLockTimeout(new ProjectLock(lockPath, { timeoutMs: 150, staleMs: 5000 }));
  const handle = await new ProjectLock(lockPath, { timeoutMs: 2000, staleMs: 300 }).acquire();
  assert.is(handle.tookOver, true);
  await handle.release();
});

X('the holder refreshes the mtime, so a live holder is never taken over by age', async () => {
  const handle = await new ProjectLock(lockPath, { staleMs: 300 }).acquire();
  try {
    const err = await expectLockTimeout(new ProjectLock(lockPath, { staleMs: 300, timeoutMs: 700 }));
    assert.is((err.details?.holder as LockStamp).nonce, handle.stamp.nonce);
    // 700 ms after taking it, a lock refreshed every 100 ms is far younger than that.
    const age = Date.now() - (await stat(lockPath)).mtimeMs;
    assert.ok(age < 300, `lock mtime is ${age} ms old`);
    assert.ok(await handle.verify());
  } finally {
    await handle.release();
  }
});

X('release does not remove a lock that is no longer mine, and reports it', async () => {
  const compromised: Array<{ found: LockStamp | null; during: string }> = [];
  const handle = await new ProjectLock(lockPath, { onCompromised: (i) => compromised.push(i) }).acquire();
  const other = stampOf({ pid: 4242 });
  await plant(lockPath, serializeStamp(other));
  assert.is(await handle.verify(), false);
  await handle.release();
  assert.is(compromised.length, 1);
  assert.is(compromised[0]!.found?.nonce, other.nonce);
  assert.is(compromised[0]!.during, 'release');
  assert.is(parseStamp(await readFile(lockPath))?.nonce, other.nonce, 'the other lock is still there');
});

X('refresh reports a lock taken away while held, and never a lock being released', async () => {
  const reports: string[] = [];
  const options = {
    staleMs: 15,
    onCompromised: (i: { during: string }) => reports.push(`compromised during ${i.during}`),
    onRefreshError: (e: unknown) => reports.push(`refresh error ${String(e)}`),
  };
  // Refresh every 5 ms while taking and releasing in a tight loop: a refresh
  // racing a release must not cry wolf.
  const lock = new ProjectLock(lockPath, options);
  for (let i = 0; i < 40; i++) {
    const handle = await lock.acquire();
    await sleep(Math.random() * 10);
    await handle.release();
  }
  assert.equal(reports, []);
  const handle = await lock.acquire();
  await plant(lockPath, serializeStamp(stampOf({ pid: 4242 })));
  for (let i = 0; i < 100 && reports.length === 0; i++) await sleep(10);
  assert.equal(reports, ['compromised during refresh']);
  await handle.release();
  assert.equal(reports, ['compromised during refresh', 'compromised during release']);
});

X('a live breaker holding the claim makes others wait; a dead claimant, or an unknown one left unchanged, does not block', async () => {
  const pid = await deadPid();
  const stale = stampOf({ pid, startTime: null });
  await plant(lockPath, serializeStamp(stale));
  // A live party (this process) is breaking that very lock right now: however
  // old its claim looks, a provably alive claimant is waited for.
  const claim = claimPath(lockPath, stale.nonce);
  await plant(claim, serializeStamp(makeStamp()), 60_000);
  await expectLockTimeout(new ProjectLock(lockPath, { timeoutMs: 200 }));
  assert.is(parseStamp(await readFile(lockPath))?.nonce, stale.nonce, 'nobody removed it behind the claim');
  // A claimant in another PID namespace cannot be judged: once its claim
  // stayed unchanged longer than a claim can live, it no longer blocks.
  await plant(claim, serializeStamp(stampOf({ pid: 1, pidNs: 'pid:[4026599999]' })));
  const first = await new ProjectLock(lockPath, { timeoutMs: 4000 }).acquire();
  assert.is(first.tookOver, true);
  assert.ok(first.waitedMs >= CLAIM_STALE_MS, `claim broken after ${first.waitedMs} ms of watching`);
  await first.release();
  // A claim whose creator is dead does not block either.
  await plant(lockPath, serializeStamp(stale));
  await plant(claim, serializeStamp(stampOf({ pid, startTime: null })));
  const second = await new ProjectLock(lockPath, { timeoutMs: 1000 }).acquire();
  assert.is(second.tookOver, true);
  assert.ok(second.waitedMs < 500, `waited ${second.waitedMs} ms`);
  await second.release();
  assert.equal(await readdir(dir), [], 'no claim, temp or lock left behind');
});

X('the stamp is fsynced before it is linked into place, so a lock name that survives a power cut holds its stamp', async () => {
  const ops: string[] = [];
  const recording: FsSeam = {
    ...realFs,
    async open(path, flags, mode) {
      const file = await realFs.open(path, flags, mode);
      return {
        fd: file.fd,
        writeAll: (data) => file.writeAll(data),
        sync: async () => {
          ops.push(`fsync ${path.includes('.tmp.') ? 'temp' : 'other'}`);
          await file.sync();
        },
        stat: () => file.stat(),
        close: () => file.close(),
      };
    },
    link: async (from, to) => {
      ops.push(`link ${to === lockPath ? 'lock' : 'other'}`);
      await realFs.link(from, to);
    },
  };
  const handle = await new ProjectLock(lockPath, { fs: recording }).acquire();
  await handle.release();
  assert.equal(ops, ['fsync temp', 'link lock'], 'one fsync of the stamp, then the link');
});

X('every file operation goes through the FsSeam, and a failed step leaves nothing behind', async () => {
  const ops: string[] = [];
  const recording = namingFs(ops);
  const handle = await new ProjectLock(lockPath, { fs: recording }).acquire();
  await handle.release();
  // An uncontended acquire + fast release uses exactly these (no stat: nothing to observe).
  for (const op of ['open', 'link', 'unlink', 'readFile']) assert.ok(ops.includes(op), `${op} went through the seam`);

  // proper-lockfile's rule: the lock code never reaches for node:fs itself.
  const sourceDir = fileURLToPath(new URL('../../../storage-worker/', import.meta.url));
  for (const file of ['project-lock.ts', 'held-lock.ts', 'lock-claim.ts', 'waiter-hint.ts', 'leftover-sweep.ts', 'lock-stamp.ts', 'temp-file-publish.ts']) {
    const source = await readFile(join(sourceDir, file), 'utf8');
    assert.not.match(source, /from 'node:fs(\/promises)?'|from 'fs'/, `${file} imports node:fs`);
  }

  const linkFails = new FaultyFs(realFs, [{ op: 'link', code: 'EIO', pathIncludes: 'media.json.lock' }]);
  try {
    await new ProjectLock(lockPath, { fs: linkFails }).acquire();
    assert.unreachable('link failed');
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).code, 'STORAGE_IO');
  }
  assert.equal(await readdir(dir), [], 'the stamp temp file was removed');

  // The link succeeds but removing the temp fails: the caller must not be left holding a lock it was told failed.
  const tempUnlinkFails = new FaultyFs(realFs, [{ op: 'unlink', code: 'EIO', pathIncludes: '.tmp.', times: 1 }]);
  try {
    await new ProjectLock(lockPath, { fs: tempUnlinkFails }).acquire();
    assert.unreachable('temp unlink failed');
  } catch (err) {
    assert.is((err as StorageError).code, 'STORAGE_IO');
  }
  assert.not.ok((await readdir(dir)).includes('media.json.lock'), 'no lock left held');
});

X('a lock left by a child killed with SIGKILL while holding is taken over at once', async () => {
  const waits: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const child = new JsonLineChild('lock-holder', [lockPath, '10000', '-1']);
    try {
      const held = await child.next('held');
      const holderPid = (held.stamp as LockStamp).pid;
      assert.is(holderPid, child.pid);
      // Odd trials do not wait for the reap: the holder may still be a zombie.
      if (trial % 2 === 0) await child.kill('SIGKILL');
      else child.proc.kill('SIGKILL');
      let takenFrom: LockStamp | null = null;
      const handle = await new ProjectLock(lockPath, {
        staleMs: 10_000,
        timeoutMs: 5000,
        onTakeover: (h) => (takenFrom = h),
      }).acquire();
      try {
        waits.push(handle.waitedMs);
        assert.is(handle.tookOver, true);
        assert.is(takenFrom!.pid, holderPid);
        assert.ok(handle.waitedMs < 1000, `waited ${handle.waitedMs} ms with staleMs 10000`);
      } finally {
        await handle.release();
      }
    } finally {
      await child.kill('SIGKILL');
    }
  }
  console.log(`    SIGKILL takeover waits (ms, staleMs 10000): ${waits.map((w) => w.toFixed(1)).join(', ')}`);
});

X('a live holder is never robbed: a waiter times out naming it, even with a short staleMs', async () => {
  const child = new JsonLineChild('lock-holder', [lockPath, '300', '1500']);
  try {
    const held = await child.next('held');
    const holder = held.stamp as LockStamp;
    const err = await expectLockTimeout(new ProjectLock(lockPath, { staleMs: 300, timeoutMs: 600, project: 'demo' }));
    assert.match(err.message, `media library of project demo is locked by pid ${child.pid} on host ${hostname()} since ${holder.acquiredAt}`);
    assert.is((err.details?.holder as LockStamp).pid, child.pid);
    assert.ok(Number(err.details?.waitedMs) >= 600);
    // It releases on its own, still holding its own lock: nobody took it away.
    const after = await new ProjectLock(lockPath, { timeoutMs: 5000 }).acquire();
    try {
      assert.is(after.tookOver, false);
      const released = await child.next('released');
      assert.is(released.verified, true);
      assert.is(released.compromised, false);
    } finally {
      await after.release();
    }
  } finally {
    await child.kill('SIGKILL');
  }
});

X('processes racing to break the same stale lock never both hold it', async () => {
  const occupancy = join(dir, 'occupancy');
  const dead = await deadPid();
  const me = currentProcess();
  const racers = [0, 1, 2].map(() => new JsonLineChild('lock-racer', [lockPath, occupancy, '150']));
  const rounds = 30;
  let overlaps = 0;
  let acquisitions = 0;
  const takeoversPerRound: number[] = [];
  try {
    await Promise.all(racers.map((r) => r.next('ready')));
    for (let round = 0; round < rounds; round++) {
      // Four kinds of stale lock: a dead pid, a reused pid (ours, other start
      // time), a garbled file and a lock from another host (these two once
      // every racer watched them unchanged for its staleMs).
      const kind = round % 4;
      if (kind === 0) await plant(lockPath, serializeStamp(stampOf({ pid: dead, startTime: null })));
      else if (kind === 1) await plant(lockPath, serializeStamp(stampOf({ startTime: (me.startTime ?? 0) + 1 })));
      else if (kind === 2) await plant(lockPath, '', 5000);
      else await plant(lockPath, serializeStamp(stampOf({ hostname: 'elsewhere', pid: 77 })), 5000);
      for (const r of racers) r.send('go');
      const done = await Promise.all(racers.map((r) => r.next('done')));
      acquisitions += done.length;
      overlaps += done.filter((d) => d.overlap === true).length;
      takeoversPerRound.push(done.filter((d) => d.tookOver === true).length);
    }
  } finally {
    await closeAll(racers);
  }
  console.log(`    break race: ${rounds} rounds x ${racers.length} processes, overlaps ${overlaps}, takeovers per round ${[...new Set(takeoversPerRound)].join('/')}`);
  assert.is(overlaps, 0, 'two processes were inside at once');
  assert.is(acquisitions, rounds * racers.length, 'every child acquired every round');
  assert.ok(
    takeoversPerRound.every((n) => n === 1),
    `each stale lock must be removed exactly once: ${takeoversPerRound.join(',')}`,
  );
  assert.equal(await readdir(dir), [], 'no lock, claim or temp left behind');
});

X('mutual exclusion under contention: 3 processes x 50 increments', async () => {
  const counter = join(dir, 'counter');
  await writeFile(counter, '0');
  const workers = [0, 1, 2].map(() => new JsonLineChild('lock-counter', [lockPath, counter, '50']));
  try {
    await Promise.all(workers.map((w) => w.next('ready')));
    const started = Date.now();
    for (const w of workers) w.send('go');
    const done = await Promise.all(workers.map((w) => w.next('done', 30_000)));
    const maxWait = Math.max(...done.map((d) => Number(d.maxWaitMs)));
    console.log(`    contention: 150 locked increments in ${Date.now() - started} ms, longest wait ${maxWait.toFixed(1)} ms`);
    assert.equal(done.map((d) => d.takeovers), [0, 0, 0], 'no live holder was taken over');
  } finally {
    await closeAll(workers);
  }
  assert.is(await readFile(counter, 'utf8'), '150');
});

X('a waiter leaves a hint that a holder can take once; without a waiter there is none', async () => {
  assert.is(await takeWaiterHint(realFs, lockPath), false);
  const held = await new ProjectLock(lockPath).acquire();
  const waiting = new ProjectLock(lockPath, { timeoutMs: 2000 }).acquire();
  for (let i = 0; i < 200 && !(await stat(waiterHintPath(lockPath)).then(() => true, () => false)); i++) await sleep(5);
  assert.is(await takeWaiterHint(realFs, lockPath), true, 'the waiter announced itself');
  assert.is(await takeWaiterHint(realFs, lockPath), false, 'a hint is taken once');
  await held.release();
  const second = await waiting;
  await second.release();
});

X.run();
