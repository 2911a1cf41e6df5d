import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StorageError } from '../../shared/errors.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import { parseStamp, serializeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { currentProcess } from '../../storage-worker/process-identity.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { expectLockTimeout } from '../helpers/lock-expectations.js';
import { namingFs } from '../helpers/observed-fs.js';
import { closeAll, JsonLineChild } from '../fixtures/json-line-child.js';
import { deadPid, eachInLockDir, plant, stampOf } from '../helpers/planted-locks.js';

const X = suite('project-lock');

let dir = '';
let lockPath = '';
eachInLockDir(X, (path, tempDir) => {
  lockPath = path;
  dir = tempDir;
});

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

X.run();
