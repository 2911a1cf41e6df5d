/**
 * The break-claim protocol (stated in full at the top of project-lock.ts):
 * the right to remove one lock (or claim) file INSTANCE belongs to whoever
 * created `<lock>.break.<key>`, and under that claim the file is re-read and
 * removed only if it is still that instance and still stale. Used by a
 * waiter taking over a stale lock, by a holder releasing its own lock after
 * a stall (held-lock.ts), and by the leftover sweep.
 */
import { errnoCode, type FsSeam } from './fs-seam.js';
import { InstanceAgeWatch, systemClock, type LockClock } from './lock-clock.js';
import { unlinkIfPresent } from './temp-file-publish.js';
import { claimPath, makeStamp, observeLock, publishStamp, type ObservedLock } from './lock-stamp.js';
import { currentProcess, holderState, type HolderStateOptions, type ProcessIdentity } from './process-identity.js';

/** A claim older than this is taken over even when its creator looks alive (it should live for microseconds). */
export const CLAIM_STALE_MS = 2000;
/** How many dead claimants in a row a breaker steps over before waiting for the sweep. */
const MAX_CLAIM_DEPTH = 8;
/** Polling backoff of a waiter (project-lock.ts) and of a release whose claim is busy (held-lock.ts). */
export const FIRST_BACKOFF_MS = 1;
export const MAX_BACKOFF_MS = 25;

/** What the claim protocol needs: where, how, which judge of liveness, and who we are. */
export interface LockContext {
  fs: FsSeam;
  lockPath: string;
  holderOptions: HolderStateOptions;
  /** how long this party has watched each claim unchanged */
  claimWatch: InstanceAgeWatch;
  identity: ProcessIdentity;
}

export type RemoveResult = 'removed' | 'changed' | 'busy';

/**
 * Stale: the holder is provably dead, or it cannot be judged (another host,
 * boot or namespace; garbled or legacy stamp) and this very instance stayed
 * unchanged for staleMs of my monotonic time. A provably alive holder: never.
 */
export function isStaleLock(
  lock: ObservedLock,
  staleMs: number,
  holderOptions: HolderStateOptions,
  watch: InstanceAgeWatch,
): boolean {
  const state = lock.stamp === null ? 'unknown' : holderState(lock.stamp, holderOptions);
  if (state !== 'unknown') return state === 'dead';
  return watch.unchangedForMs(lock) >= staleMs;
}

function isStaleClaim(claim: ObservedLock, ctx: LockContext): boolean {
  return isStaleLock(claim, CLAIM_STALE_MS, ctx.holderOptions, ctx.claimWatch);
}

/** Whether `path` exists (a claim, say). */
export async function exists(fs: FsSeam, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Removes `path` if it still is the instance `judged` and still stale, under
 * the claim on that instance (see the top of project-lock.ts).
 */
export async function removeStale(
  ctx: LockContext,
  path: string,
  judged: ObservedLock,
  isStale: (lock: ObservedLock) => boolean,
  depth: number,
): Promise<RemoveResult> {
  const outcome = await withClaim(ctx, judged.key, depth, async (stillSafe) => {
    const now = await observeLock(ctx.fs, path);
    if (now === null || now.key !== judged.key || !isStale(now) || !stillSafe()) return 'changed' as const;
    await unlinkIfPresent(ctx.fs, path);
    return 'removed' as const;
  });
  return outcome;
}

/**
 * Runs `action` while holding the claim on file instance `key`; 'busy' when a
 * live party holds that claim. `stillSafe()` tells the action whether our
 * claim is still young enough that nobody can have judged it stale.
 */
export async function withClaim<T>(
  ctx: LockContext,
  key: string,
  depth: number,
  action: (stillSafe: () => boolean) => Promise<T>,
): Promise<T | 'busy'> {
  const path = claimPath(ctx.lockPath, key);
  const now = (): number => ctx.claimWatch.clock.monotonic();
  for (let attempt = 0; attempt < 3; attempt++) {
    const claimedAt = now();
    const stamp = makeStamp(ctx.identity);
    if (await publishStamp(ctx.fs, path, stamp)) {
      const stillSafe = (): boolean => now() - claimedAt < CLAIM_STALE_MS / 2;
      try {
        return await action(stillSafe);
      } finally {
        // Remove our claim only while nobody can have judged it stale; an
        // older one is left to the claim-of-claim rule and the sweep.
        const now = await observeLock(ctx.fs, path);
        if (now !== null && now.key === stamp.nonce && stillSafe()) await unlinkIfPresent(ctx.fs, path);
      }
    }
    const holder = await observeLock(ctx.fs, path);
    if (holder === null) continue;
    if (!isStaleClaim(holder, ctx) || depth >= MAX_CLAIM_DEPTH) return 'busy';
    const removed = await removeStale(ctx, path, holder, (c) => isStaleClaim(c, ctx), depth + 1);
    if (removed === 'busy') return 'busy';
  }
  return 'busy';
}

/** The claim protocol's context; also for callers that are not a lock holder (the leftover sweep). */
export function lockContext(
  fs: FsSeam,
  lockPath: string,
  holderOptions: HolderStateOptions = {},
  clock: LockClock = systemClock,
  identity: ProcessIdentity = currentProcess(),
): LockContext {
  return { fs, lockPath, holderOptions, claimWatch: new InstanceAgeWatch(clock), identity };
}
