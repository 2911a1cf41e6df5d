/**
 * Recovery at open: removes what dead processes left in one directory —
 * temp files of interrupted atomic writes (and of lock stamps), lock files and
 * break claims whose holder is dead — and never a live process's file.
 *
 * - Temp files (`<base>.tmp.<pid>.<threadId>.<seq>.<hex>`, see temp-file-name.ts)
 *   carry a pid but no hostname or start time, so besides "pid dead on this
 *   host" they must also be older than `minTempAgeMs`: a process on another
 *   host sharing the directory (or one that reused the pid) may be writing one
 *   right now, and no commit takes seconds.
 * - Locks and claims carry a full stamp and are judged by `holderState`
 *   (dead only; age is ProjectLock's business). They are removed through the
 *   same claim protocol as a takeover (project-lock.ts), so a sweep racing a
 *   breaker or a fresh acquirer never unlinks a fresh file.
 * - A garbled lock is left alone: ProjectLock takes it over once it is old.
 *
 * All file I/O goes through the FsSeam.
 */
import { join } from 'node:path';
import { errnoCode, realFs, type FsSeam } from './fs-seam.js';
import { claimedLockName, observeLock } from './lock-stamp.js';
import { currentProcess, holderState, type HolderStateOptions } from './process-identity.js';
import { lockContext, removeStale } from './project-lock.js';
import { parseTempName } from './temp-file-name.js';

export interface SweepOptions extends HolderStateOptions {
  fs?: FsSeam;
  /** a dead pid's temp file younger than this is kept (default 5000) */
  minTempAgeMs?: number;
}

/** File names (within the swept directory). */
export interface SweepResult {
  removedTemps: string[];
  removedLocks: string[];
  /** kept because their owner is (or may be: another host) alive */
  keptLive: string[];
  /** kept for another reason: a dead pid's temp still young, a garbled lock */
  skipped: string[];
}

const LOCK_SUFFIX = '.lock';

export async function sweepLeftovers(dir: string, options: SweepOptions = {}): Promise<SweepResult> {
  const fs = options.fs ?? realFs;
  const minTempAgeMs = options.minTempAgeMs ?? 5000;
  const holderOptions: HolderStateOptions = {};
  if (options.isThreadAlive) holderOptions.isThreadAlive = options.isThreadAlive;
  const result: SweepResult = { removedTemps: [], removedLocks: [], keptLive: [], skipped: [] };

  let entries;
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    // No directory, nothing left over.
    if (errnoCode(err) === 'ENOENT') return result;
    throw err;
  }
  const host = currentProcess().hostname;
  // Claims before locks: removing a dead lock first would remove its dead
  // claim on the way (unreported); each file is then reported where it went.
  const names = entries.filter((e) => e.isFile()).map((e) => e.name);
  names.sort((a, b) => Number(claimedLockName(b) !== null) - Number(claimedLockName(a) !== null));

  for (const name of names) {
    const path = join(dir, name);

    const temp = parseTempName(name);
    if (temp !== null) {
      const state = holderState({ pid: temp.pid, hostname: host, startTime: null, threadId: temp.threadId }, holderOptions);
      if (state !== 'dead') {
        result.keptLive.push(name);
        continue;
      }
      const age = await ageMs(fs, path);
      if (age === null) continue;
      // Age guards against another host or a reused pid; a dead thread of this
      // very process (known from isThreadAlive) needs no such guard.
      if (age < minTempAgeMs && temp.pid !== process.pid) {
        result.skipped.push(name);
        continue;
      }
      if (await unlinkIfPresent(fs, path)) result.removedTemps.push(name);
      continue;
    }

    const claimedLock = claimedLockName(name);
    const lockName = claimedLock ?? (name.endsWith(LOCK_SUFFIX) ? name : null);
    if (lockName === null) continue;
    const observed = await observeLock(fs, path);
    if (observed === null) continue;
    if (observed.stamp === null) {
      result.skipped.push(name);
      continue;
    }
    if (holderState(observed.stamp, holderOptions) !== 'dead') {
      result.keptLive.push(name);
      continue;
    }
    const ctx = lockContext(fs, join(dir, lockName), holderOptions);
    const outcome = await removeStale(
      ctx,
      path,
      observed,
      (now) => now.stamp !== null && holderState(now.stamp, holderOptions) === 'dead',
      0,
    );
    // 'changed' / 'busy': a live process replaced it or is breaking it right now.
    if (outcome === 'removed') result.removedLocks.push(name);
    else result.keptLive.push(name);
  }
  return result;
}

async function ageMs(fs: FsSeam, path: string): Promise<number | null> {
  try {
    const st = await fs.stat(path);
    return Date.now() - Number(st.mtimeNs / 1_000_000n);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** true when we removed it; false when it was already gone (someone else swept it). */
async function unlinkIfPresent(fs: FsSeam, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
