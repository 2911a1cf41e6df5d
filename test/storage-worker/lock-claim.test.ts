import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { CLAIM_STALE_MS } from '../../storage-worker/lock-claim.js';
import { claimPath, makeStamp, parseStamp, serializeStamp } from '../../storage-worker/lock-stamp.js';
import { currentProcess } from '../../storage-worker/process-identity.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { expectLockTimeout } from '../helpers/lock-expectations.js';
import { deadPid, eachInLockDir, plant, stampOf } from '../helpers/planted-locks.js';
import { closeAll, JsonLineChild } from '../fixtures/json-line-child.js';

const X = suite('lock-claim');

let dir = '';
let lockPath = '';
eachInLockDir(X, (path, tempDir) => {
  lockPath = path;
  dir = tempDir;
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

X.run();
