import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs } from '../../storage-worker/fs-seam.js';
import { claimPath, makeStamp, serializeStamp } from '../../storage-worker/lock-stamp.js';
import { currentProcess } from '../../storage-worker/process-identity.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { sweepLeftovers } from '../../storage-worker/leftover-sweep.js';
import { makeTempName } from '../../storage-worker/temp-file-name.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';

const X = suite('leftover-sweep');

let dir = '';
X.before.each(async () => {
  dir = await makeTempDir('sweep');
});
X.after.each(async () => {
  await removeTempDir(dir);
});

async function backdate(names: string[], ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  for (const name of names) await utimes(join(dir, name), t, t);
}

const sorted = (names: string[]): string[] => [...names].sort();

X('keeps a live process\'s temp, lock and claim; removes them all once it is killed', async () => {
  await writeFile(join(dir, 'media.json'), '{"files":[]}');
  const child = new JsonLineChild('lock-leftovers', [dir]);
  try {
    const ready = await child.next('ready');
    const [lockName, dataTemp, lockTemp, claim] = ready.files as [string, string, string, string];
    await backdate([dataTemp, lockTemp], 60_000);

    const whileAlive = await sweepLeftovers(dir);
    assert.equal(whileAlive.removedTemps, []);
    assert.equal(whileAlive.removedLocks, []);
    assert.equal(sorted(whileAlive.keptLive), sorted([lockName, dataTemp, lockTemp, claim]));

    await child.kill('SIGKILL');
    await writeFile(join(dir, dataTemp), '{"files":['); // fresh again: a dead pid's young temp is kept
    const young = await sweepLeftovers(dir);
    assert.equal(young.skipped, [dataTemp]);
    assert.equal(young.removedTemps, [lockTemp]);
    assert.equal(sorted(young.removedLocks), sorted([lockName, claim]));
    assert.equal(young.keptLive, []);

    await backdate([dataTemp], 10_000);
    const old = await sweepLeftovers(dir);
    assert.equal(old.removedTemps, [dataTemp]);
    assert.equal(await readdir(dir), ['media.json'], 'only the document is left');
    assert.is(await readFile(join(dir, 'media.json'), 'utf8'), '{"files":[]}');
  } finally {
    await child.kill('SIGKILL');
  }
  // With the dead holder's lock swept, the next writer does not wait at all.
  const handle = await new ProjectLock(join(dir, 'media.json.lock'), { timeoutMs: 100 }).acquire();
  assert.is(handle.tookOver, false);
  await handle.release();
});

X('never touches this process\'s files, however old; removes a reused-pid lock', async () => {
  const me = currentProcess();
  const lockPath = join(dir, 'media.json.lock');
  const held = await new ProjectLock(lockPath).acquire();
  try {
    const ownTemp = makeTempName(join(dir, 'media.json'));
    await writeFile(ownTemp, 'partial');
    const name = ownTemp.slice(dir.length + 1);
    await backdate([name, 'media.json.lock'], 60_000);
    // A lock of a previous process that had our pid (other start time).
    const reused = { ...makeStamp(), startTime: (me.startTime ?? 0) + 99 };
    await writeFile(join(dir, 'theme.json.lock'), serializeStamp(reused));

    const result = await sweepLeftovers(dir);
    assert.equal(sorted(result.keptLive), sorted([name, 'media.json.lock']));
    assert.equal(result.removedLocks, ['theme.json.lock']);
    assert.equal(result.removedTemps, []);
    assert.ok(await held.verify(), 'our lock is untouched');
  } finally {
    await held.release();
  }
});

X('leaves garbled locks, other hosts\' locks and unrelated files alone', async () => {
  await writeFile(join(dir, 'media.json.lock'), '');
  await writeFile(join(dir, 'theme.json.lock'), serializeStamp({ ...makeStamp(), hostname: 'elsewhere', pid: 99999 }));
  await writeFile(join(dir, 'media.json'), '{}');
  await writeFile(join(dir, 'media.json.bak'), '{}');
  await writeFile(join(dir, 'notes.lock.txt'), 'x');
  await writeFile(join(dir, 'media.json.tmp'), 'steno leftover: not our naming, not ours to judge');
  await backdate(['media.json.lock', 'theme.json.lock', 'media.json.tmp'], 60_000);
  const result = await sweepLeftovers(dir);
  assert.equal(result.skipped, ['media.json.lock']);
  assert.equal(result.keptLive, ['theme.json.lock']);
  assert.equal(result.removedLocks, []);
  assert.equal(result.removedTemps, []);
  assert.is((await readdir(dir)).length, 6);
});

X('a dead lock that a live breaker is claiming right now is left to that breaker', async () => {
  const child = new JsonLineChild('lock-io', []);
  const deadPid = child.pid;
  await child.exited;
  const lockPath = join(dir, 'media.json.lock');
  const stale = { ...makeStamp(), pid: deadPid, startTime: null };
  await writeFile(lockPath, serializeStamp(stale));
  const claim = claimPath(lockPath, stale.nonce);
  await writeFile(`${claim}.new`, serializeStamp(makeStamp())); // claimed by us: alive
  await rename(`${claim}.new`, claim);
  const result = await sweepLeftovers(dir);
  assert.equal(sorted(result.keptLive), sorted(['media.json.lock', claim.slice(dir.length + 1)]));
  assert.equal(result.removedLocks, []);
});

X('a lock of another PID namespace (pid looks dead here) is kept until it is old by the generous rule', async () => {
  const child = new JsonLineChild('lock-io', []);
  const pidDeadHere = child.pid;
  await child.exited;
  // A container's holder: its pid means nothing in our namespace.
  const foreign = { ...makeStamp(), pid: pidDeadHere, pidNs: 'pid:[4026599999]' };
  await writeFile(join(dir, 'media.json.lock'), serializeStamp(foreign));
  const young = await sweepLeftovers(dir);
  assert.equal(young.removedLocks, []);
  assert.equal(young.keptLive, ['media.json.lock']);
  // Untouched for longer than any live holder leaves it (it refreshes every staleMs/3): removed.
  await backdate(['media.json.lock'], 20 * 60_000);
  const old = await sweepLeftovers(dir);
  assert.equal(old.removedLocks, ['media.json.lock']);
  assert.equal(await readdir(dir), []);
});

X('a missing directory sweeps to nothing; an I/O error is not swallowed', async () => {
  const none = await sweepLeftovers(join(dir, 'absent'));
  assert.equal(none, { removedTemps: [], removedLocks: [], keptLive: [], skipped: [] });
  const fs = new FaultyFs(realFs, [{ op: 'readdir', code: 'EIO' }]);
  try {
    await sweepLeftovers(dir, { fs });
    assert.unreachable('readdir failed');
  } catch (err) {
    assert.is((err as { code?: unknown }).code, 'EIO');
  }
});

X.run();
