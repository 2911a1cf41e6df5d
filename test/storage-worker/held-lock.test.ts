import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStamp, serializeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { expectLockTimeout } from '../helpers/lock-expectations.js';
import { eachInLockDir, plant, stampOf } from '../helpers/planted-locks.js';

const X = suite('held-lock');

let lockPath = '';
eachInLockDir(X, (path) => {
  lockPath = path;
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

X.run();
