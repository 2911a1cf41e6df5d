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
 * - Locks and claims carry a full stamp and are judged by `holderState`. A
 *   provably alive holder's file is never removed, however old. A dead one's
 *   is. One that cannot be judged ('unknown': another PID namespace, boot or
 *   host, or a legacy stamp) is removed only once its mtime is older than
 *   `unknownLockAgeMs` (default 15 min) by the wall clock: the sweep runs
 *   once, so it cannot watch a file for a while as ProjectLock does, and the
 *   generous limit absorbs clock skew — its holder refreshes the mtime every
 *   staleMs/3, so only a skew of that size could make a live lock look old,
 *   and ProjectLock frees such locks after staleMs anyway.
 *   Removal goes through the same claim protocol as a takeover
 *   (lock-claim.ts), so a sweep racing a breaker or a fresh acquirer never
 *   unlinks a fresh file.
 * - A garbled lock is left alone: ProjectLock takes it over once it is old.
 *
 * All file I/O goes through the FsSeam.
 */
import { join } from 'node:path';
import { LOCK_SUFFIX } from '../shared/project-paths.js';
import { errnoCode, realFs, type FsSeam } from './fs-seam.js';
import { systemClock, type LockClock } from './lock-clock.js';
import { claimedLockName, observeLock, type ObservedLock } from './lock-stamp.js';
import { currentProcess, holderState, type HolderStateOptions } from './process-identity.js';
import { lockContext, removeStale } from './lock-claim.js';
import { parseTempName } from './temp-file-name.js';
import { unlinkIfPresent } from './temp-file-publish.js';

export interface SweepOptions extends HolderStateOptions {
  fs?: FsSeam;
  /** a dead pid's temp file younger than this is kept (default 5000) */
  minTempAgeMs?: number;
  /** a lock or claim whose holder cannot be judged is kept while younger than this by mtime (default 15 min) */
  unknownLockAgeMs?: number;
  /** time seam (default: the system clock) */
  clock?: LockClock;
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

export async function sweepLeftovers(dir: string, options: SweepOptions = {}): Promise<SweepResult> {
  const fs = options.fs ?? realFs;
  const minTempAgeMs = options.minTempAgeMs ?? 5000;
  const unknownLockAgeMs = options.unknownLockAgeMs ?? 15 * 60_000;
  const clock = options.clock ?? systemClock;
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
  // Temp names carry a pid only: judged as if of our own host, boot and
  // namespace, which the age guard below makes safe enough (see the header).
  const { hostname, bootId, pidNs } = currentProcess();
  /** Whether a lock or claim as observed now may be removed. */
  const removable = (lock: ObservedLock): boolean => {
    if (lock.stamp === null) return false;
    const state = holderState(lock.stamp, holderOptions);
    if (state === 'unknown') return clock.wall() - lock.mtimeMs >= unknownLockAgeMs;
    return state === 'dead';
  };
  // Claims before locks: removing a dead lock first would remove its dead
  // claim on the way (unreported); each file is then reported where it went.
  const names = entries.filter((e) => e.isFile()).map((e) => e.name);
  names.sort((a, b) => Number(claimedLockName(b) !== null) - Number(claimedLockName(a) !== null));

  for (const name of names) {
    const path = join(dir, name);

    const temp = parseTempName(name);
    if (temp !== null) {
      const identity = { pid: temp.pid, hostname, bootId, pidNs, startTime: null, threadId: temp.threadId };
      const state = holderState(identity, holderOptions);
      if (state !== 'dead') {
        result.keptLive.push(name);
        continue;
      }
      const age = await ageMs(fs, path, clock);
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
    if (!removable(observed)) {
      result.keptLive.push(name);
      continue;
    }
    const ctx = lockContext(fs, join(dir, lockName), holderOptions, clock);
    const outcome = await removeStale(ctx, path, observed, removable, 0);
    // 'changed' / 'busy': a live process replaced it or is breaking it right now.
    if (outcome === 'removed') result.removedLocks.push(name);
    else result.keptLive.push(name);
  }
  return result;
}

async function ageMs(fs: FsSeam, path: string, clock: LockClock): Promise<number | null> {
  try {
    const st = await fs.stat(path);
    return clock.wall() - Number(st.mtimeNs / 1_000_000n);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}
