/**
 * One project's media.json lock as commits use it (invariant 6 of
 * docs/architecture.md): back-to-back commits share one acquisition (a
 * lease), every publishing rename is fenced by it, and a lease that ran out
 * with work still queued steps aside for a waiting process first.
 */
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import { lockFileOf } from '../shared/project-paths.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { ProjectLock, takeWaiterHint, waiterHintPath, type LockHandle, type LockStamp } from './project-lock.js';
import type { WorkerCounters } from './worker-counters.js';

export interface LockLeaseOptions {
  fs: FsSeam;
  logger: pino.Logger;
  counters: WorkerCounters;
  project: string;
  timeoutMs: number;
  staleMs: number;
  isThreadAlive: (threadId: number) => boolean;
  /** The lock was taken over from a dead or stale holder: runs before the commit that took it goes on. */
  onTakeover: () => Promise<void>;
}

/** back-to-back commits keep the lock at most this long before giving others a turn */
export const LEASE_MS = 30;
/** how long an expired lease waits for a waiting process to take the lock */
const STEP_ASIDE_MAX_MS = 30;
/** a lock wait at least this long is logged as a warning */
const LOCK_WAIT_WARN_MS = 100;

export class LockLease {
  readonly lockPath: string;
  private readonly lock: ProjectLock;
  /** the lock while back-to-back commits share it (see take) */
  private lease: { handle: LockHandle; since: number } | null = null;
  /** the last lease ended by its time limit, not for lack of work: give waiters a turn first */
  private leaseExpired = false;
  /** who held the lock when this process last had to wait for it */
  private lastLockHolder: LockStamp | null = null;

  constructor(mediaPath: string, private readonly opts: LockLeaseOptions) {
    this.lockPath = lockFileOf(mediaPath);
    this.lock = new ProjectLock(this.lockPath, {
      fs: opts.fs,
      timeoutMs: opts.timeoutMs,
      staleMs: opts.staleMs,
      isThreadAlive: opts.isThreadAlive,
      project: opts.project,
      onWait: (holder) => {
        this.lastLockHolder = holder;
      },
      onTakeover: (holder) => {
        opts.counters.staleLockTakeovers++;
        opts.logger.warn({ project: opts.project, holder }, 'took over a stale media.json lock');
      },
      onCompromised: (holder) =>
        opts.logger.error({ project: opts.project, holder }, 'media.json lock was taken from this process while it held it'),
    });
  }

  /** Whether a lease is held now. */
  get held(): boolean {
    return this.lease !== null;
  }

  /** One acquisition outside any lease (recovery at load): the caller releases it. */
  acquireOnce(): Promise<LockHandle> {
    return this.lock.acquire();
  }

  /**
   * The project lock for a commit. Back-to-back commits share one
   * acquisition (a lease of at most LEASE_MS): under load that saves the
   * lock's file operations and the freshness check on most commits, while
   * other processes still get the lock at least every LEASE_MS (plus a
   * commit). Resolves true when the lease was already held.
   */
  async take(): Promise<boolean> {
    // A lease is trusted without a look at the lock file: if it was taken
    // over meanwhile, the fence before the first rename says so, and a batch
    // that published nothing is then simply run again under a fresh lock.
    if (this.lease) return true;
    if (this.leaseExpired) {
      this.leaseExpired = false;
      await this.stepAsideForWaiters();
    }
    const handle = await this.lock.acquire();
    this.lease = { handle, since: performance.now() };
    this.opts.counters.lockAcquired(handle.waitedMs);
    // Short waits are normal when two processes share a project; a long one
    // means a slow or stuck holder, which an operator wants to see.
    if (handle.waitedMs >= LOCK_WAIT_WARN_MS) {
      const holder = this.lastLockHolder;
      this.opts.logger.warn(
        { project: this.opts.project, waitedMs: Math.round(handle.waitedMs), holder: holder ? { pid: holder.pid, hostname: holder.hostname, since: holder.acquiredAt } : null },
        'waited for the media.json lock',
      );
    }
    if (handle.tookOver) await this.opts.onTakeover();
    return false;
  }

  /**
   * The fence of invariant 4: throws LOCK_LOST unless the lock file still
   * carries the nonce of the lease this commit runs under. Called right
   * before every rename that publishes a file, and at the start of a commit
   * that reuses a lease (the lease skips the freshness check, which is only
   * sound while nobody else can have held the lock).
   */
  readonly fence = async (): Promise<void> => {
    const lease = this.lease;
    if (!lease) {
      throw new StorageError('LOCK_LOST', `project ${this.opts.project}: a commit tried to publish without holding the media.json lock`, { project: this.opts.project });
    }
    await lease.handle.assertHeld();
  };

  /** Whether the lease has run its time (LEASE_MS); true when none is held. */
  pastTime(): boolean {
    return performance.now() - (this.lease?.since ?? 0) >= LEASE_MS;
  }

  /**
   * Whether the lease may go on into one more commit: within its time, or
   * past it only while no other process has asked for the lock (a waiter
   * that asks later waits for that commit, then the holder steps aside).
   */
  async mayHoldOn(): Promise<boolean> {
    if (this.lease === null) return false;
    if (performance.now() - this.lease.since < LEASE_MS) return true;
    try {
      await this.opts.fs.stat(waiterHintPath(this.lockPath));
      return false; // someone is waiting: give them their turn
    } catch (err) {
      return errnoCode(err) === 'ENOENT';
    }
  }

  /** Ends the lease after a commit; `expired`: by its time limit, so the next take steps aside for waiters. */
  endAfterCommit(expired: boolean): Promise<void> {
    this.leaseExpired = expired;
    return this.end();
  }

  async end(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    await lease?.handle.release().catch((err: unknown) =>
      this.opts.logger.warn({ project: this.opts.project, err }, 'could not release media.json lock'),
    );
  }

  private async stepAsideForWaiters(): Promise<void> {
    if (!(await takeWaiterHint(this.opts.fs, this.lockPath))) return;
    const until = performance.now() + STEP_ASIDE_MAX_MS;
    while (performance.now() < until) {
      try {
        await this.opts.fs.stat(this.lockPath);
        return; // someone else holds it now: our acquire will queue behind them
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}
