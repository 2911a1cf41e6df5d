/**
 * `ProjectLock`: the cross-process lock of one project's media library
 * (`<project>/uploads/media.json.lock`), held across each commit's
 * read-check-modify-write so two processes (an old and a new server during a
 * hot reload, a maintenance script) never interleave their commits.
 *
 * ## Taking the lock
 * The stamp (pid, hostname, boot id, PID namespace, process start time,
 * thread id, time, nonce) is written to a unique temp file, which is then
 * `link()`ed onto the lock name. `link` fails with EEXIST while a lock exists,
 * and when it succeeds the lock appears complete with its stamp: `open(wx)` +
 * `write` would leave an EMPTY lock if the process died between the two, and
 * nobody could tell whose it is. While holding, the holder renews the lock's
 * mtime every staleMs/3 (a new value each time, even if its clock stepped
 * back), so a live holder's lock never stays unchanged for long.
 *
 * ## Stale locks
 * A lock is stale when its holder is provably dead — same hostname, boot and
 * PID namespace (process-identity.ts), and the pid gone, a zombie, or now a
 * process with another start time — or when its holder cannot be judged
 * (another host, boot or namespace; a garbled or legacy stamp) and this very
 * instance (key + mtime) stayed unchanged for staleMs of the WAITER's
 * monotonic clock since it first saw it (lock-clock.ts): no wall clock is ever
 * compared with an mtime, so skew and clock steps cannot make a live lock look
 * old. A holder provably alive is never taken over by age: a paused or stuck
 * process on this host keeps its lock until it dies or lets go.
 *
 * "Read the stamp, see it is stale, unlink" is NOT safe with several
 * waiters: B reads stale S, A unlinks S and links its fresh lock L, then B
 * unlinks L — and A and B both hold. So removal goes through claims:
 *
 *   The right to remove one file INSTANCE — named by its key: the stamp's
 *   nonce, or inode+mtime+size for a garbled file — belongs to whoever created
 *   `<lock>.break.<key>` (the claim), created with the same temp + link()
 *   trick, so exactly one party wins it. Under the claim, the claimant
 *   re-reads the lock, checks that it is STILL that instance and STILL stale
 *   (a renewed mtime makes it fresh again), unlinks it, then removes its
 *   claim. A late breaker that judged the same instance stale either finds the
 *   claim taken (and goes back to waiting) or, once it is gone, re-reads a
 *   different lock and leaves it alone — nonces never repeat, so an instance
 *   once removed is never "still there".
 *
 *   The holder releases its own lock the same way (under the claim on its own
 *   nonce), so a release and a takeover can never both unlink: whatever sits
 *   at the lock name is only ever unlinked by the one holder of that
 *   instance's claim.
 *
 *   A claim whose creator died (or, for a creator that cannot be judged, that
 *   stayed unchanged for CLAIM_STALE_MS of watching) is removed by the same
 *   rule one level up: whoever creates `<lock>.break.<key of that claim>` may
 *   remove it. Every level is a fresh, never-reused name, so each has exactly
 *   one winner; depth is bounded and the leftover sweep removes claims of dead
 *   processes.
 *
 * ## Fencing: a holder publishes only while it provably holds the lock
 * A holder that stalls (SIGSTOP, a VM or debugger pause, swap, a long GC)
 * stops renewing; a waiter that cannot judge it may then take the lock over.
 * When the old holder resumes it must not publish what it prepared. Hence
 * `assertHeld()`, called right before the rename that publishes and before
 * each commit that reuses a held lock: it throws LOCK_LOST (nothing is
 * published, nothing acknowledged) when the handle was ever seen compromised
 * (by a refresh, a release or an earlier assertHeld), or when the lock file
 * does not carry our nonce right now. It costs one read while the lock is
 * fresh.
 *
 * `freshAt` (the holder's monotonic time just BEFORE its current mtime was
 * set) bounds every takeover: a breaker starts watching an mtime only after
 * it was set, so nobody can remove the lock before freshAt + staleMs. So
 * assertHeld() returns only while less than staleMs/2 has passed since
 * freshAt. After a longer stall it renews first, a proof that needs no clock
 * at all: (1) set a new mtime — from then on any breaker's re-check under its
 * claim sees a changed instance and backs off; (2) no claim on our nonce
 * exists — a breaker whose re-check came before (1) still holds its claim, or
 * (3) has already unlinked our lock, and the read shows a foreign nonce.
 * Passing all three, the lock is ours and freshAt moves to before (1). A
 * claim seen in (2) means someone judged us stale: LOCK_LOST ('stalled'),
 * even though the file may still be ours. The refresh timer runs the same
 * renewal, so a resumed holder that did not commit still learns it lost.
 *
 * ## The window that remains, and its bound
 * Between assertHeld() returning and the rename completing, nothing re-checks
 * (a file system offers no conditional rename). A takeover lands in that
 * window only if ALL of these hold:
 * - the waiter cannot judge the holder (another host, boot or PID namespace,
 *   or a legacy stamp) — a holder on this host in our namespace is never
 *   taken over while alive, so for it there is no window at all;
 * - the holder stalls inside that window (a few µs of code and one rename
 *   syscall) for MORE THAN staleMs/2 (5 s at the default staleMs 10 s):
 *   assertHeld() left at least that margin before anyone may remove the lock;
 * - the new holder then reads media.json before the stalled rename lands.
 * The bound assumes the monotonic clocks of holder and waiter advance at the
 * same rate to within a few percent (true on one host; NTP slews at most
 * 0.05 %), and that the file system's mtime resolution is finer than
 * staleMs/3 (1 s mtimes: keep staleMs ≥ 3 s).
 *
 * ## Remaining assumptions
 * - Same-host liveness is exact only within one boot and PID namespace
 *   (kill(pid, 0) + start time from /proc). Everything else is judged by the
 *   waiter's watching, and the file system must support link() (NFS does;
 *   some SMB mounts don't).
 * - Same hostname, other boot id: a reboot or a twin host cannot be told
 *   apart, so it counts as 'unknown' (a reboot costs one staleMs of waiting).
 * - A waiter that starts after an unjudgeable holder died waits staleMs from
 *   its own first look, not from the death.
 * - A claimant that stalls for longer than CLAIM_STALE_MS / 2 in the few
 *   microseconds between checking its claim's age and acting under it, while
 *   another party that cannot judge it breaks the claim, is the one other way
 *   two parties could act on one instance at once.
 * - A crash while holding a claim delays a takeover by at most one retry,
 *   never blocks it: a dead claimant is seen at once on the same host.
 *
 * All file I/O goes through the FsSeam, so tests can fail any step.
 */
// This file takes the lock (the acquire/wait loop). The protocol's other parts:
// lock-stamp.ts publishes and observes a lock file, lock-claim.ts breaks a
// stale one, held-lock.ts renews, fences and releases a held one, and
// waiter-hint.ts lets a waiter ask a busy holder to step aside.
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../shared/errors.js';
import { realFs, type FsSeam } from './fs-seam.js';
import { HeldLock, type HolderCallbacks, type LockHandle } from './held-lock.js';
import { FIRST_BACKOFF_MS, isStaleLock, lockContext, MAX_BACKOFF_MS, removeStale, type LockContext } from './lock-claim.js';
import { InstanceAgeWatch, systemClock, type LockClock } from './lock-clock.js';
import { makeStamp, observeLock, publishStamp, type LockStamp, type ObservedLock } from './lock-stamp.js';
import type { HolderStateOptions, ProcessIdentity } from './process-identity.js';
import { announceWaiter, takeWaiterHint } from './waiter-hint.js';

// The lock's surface for its users (project-store.ts, project-registry.ts).
export type { LockStamp } from './lock-stamp.js';
export type { CompromisedInfo, LockHandle } from './held-lock.js';
export { takeWaiterHint, waiterHintPath } from './waiter-hint.js';

export interface ProjectLockOptions extends HolderStateOptions, HolderCallbacks {
  fs?: FsSeam;
  /** how long acquire() waits before LOCK_TIMEOUT (default 5000) */
  timeoutMs?: number;
  /**
   * a lock whose holder cannot be judged (another host, boot or PID namespace;
   * a garbled or legacy stamp) is taken over once it stayed unchanged this
   * long on my monotonic clock; a holder provably alive never is (default 10000)
   */
  staleMs?: number;
  /** time seam (default: performance.now and Date.now) */
  clock?: LockClock;
  /** who this process says it is in its stamps (default: currentProcess()); a test seam */
  identity?: ProcessIdentity;
  /** names the project in LOCK_TIMEOUT messages (default: the lock path) */
  project?: string;
  /** once per acquire(), when it first finds the lock held */
  onWait?: (holder: LockStamp | null) => void;
  /** a stale lock was removed by this acquire(); holder null when the file was garbled */
  onTakeover?: (holder: LockStamp | null) => void;
}


export class ProjectLock {
  readonly lockPath: string;
  private readonly fs: FsSeam;
  private readonly timeoutMs: number;
  private readonly staleMs: number;
  private readonly project: string;
  private readonly ctx: LockContext;
  private readonly clock: LockClock;
  /** survives across acquire() calls: a lock watched by an earlier call keeps its age */
  private readonly watch: InstanceAgeWatch;

  constructor(
    lockPath: string,
    private readonly options: ProjectLockOptions = {},
  ) {
    this.lockPath = lockPath;
    this.fs = options.fs ?? realFs;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.staleMs = options.staleMs ?? 10_000;
    this.project = options.project ?? lockPath;
    this.clock = options.clock ?? systemClock;
    this.watch = new InstanceAgeWatch(this.clock);
    const holderOptions: HolderStateOptions = {};
    if (options.isThreadAlive) holderOptions.isThreadAlive = options.isThreadAlive;
    this.ctx = lockContext(this.fs, lockPath, holderOptions, this.clock, options.identity);
    if (!(this.staleMs > 0)) throw new StorageError('INVALID_INPUT', `Expected \`staleMs\` to be > 0, got ${this.staleMs}`);
    if (!(this.timeoutMs >= 0)) throw new StorageError('INVALID_INPUT', `Expected \`timeoutMs\` to be >= 0, got ${this.timeoutMs}`);
  }

  /** Whether an observed lock may be taken over. */
  isStale(lock: ObservedLock): boolean {
    return isStaleLock(lock, this.staleMs, this.ctx.holderOptions, this.watch);
  }

  async acquire(): Promise<LockHandle> {
    const now = (): number => this.clock.monotonic();
    const started = now();
    let tookOver = false;
    let waited = false;
    let backoff = FIRST_BACKOFF_MS;
    let lastHolder: ObservedLock | null = null;
    try {
      for (;;) {
        const stamp = makeStamp(this.ctx.identity);
        // Before the lock exists: nobody can have seen its mtime earlier (see HeldLock.freshAt).
        const publishing = now();
        if (await publishStamp(this.fs, this.lockPath, stamp)) {
          // No longer waiting: take our hint back (another waiter re-announces on its next poll).
          if (waited) await takeWaiterHint(this.fs, this.lockPath).catch(() => false);
          return new HeldLock(this.ctx, stamp, now() - started, tookOver, publishing, {
            staleMs: this.staleMs,
            project: this.project,
            clock: this.clock,
            options: this.options,
          });
        }
        const holder = await observeLock(this.fs, this.lockPath);
        if (holder === null) {
          // Released between our link and our read: try again at once (bounded
          // by the deadline too, should other processes keep winning that race).
          const elapsed = now() - started;
          if (elapsed >= this.timeoutMs && lastHolder !== null) throw this.timeoutError(lastHolder, elapsed);
          continue;
        }
        lastHolder = holder;
        if (this.isStale(holder)) {
          const result = await removeStale(this.ctx, this.lockPath, holder, (l) => this.isStale(l), 0);
          if (result === 'removed') {
            tookOver = true;
            this.options.onTakeover?.(holder.stamp);
          }
          // removed, or replaced meanwhile: look again at once; 'busy': another
          // breaker holds the claim and will be done in a moment.
          if (result !== 'busy' && now() - started < this.timeoutMs) continue;
        }
        if (!waited) {
          waited = true;
          this.options.onWait?.(holder.stamp);
        }
        const elapsed = now() - started;
        if (elapsed >= this.timeoutMs) {
          await takeWaiterHint(this.fs, this.lockPath).catch(() => false);
          throw this.timeoutError(holder, elapsed);
        }
        // Every poll: a holder or another waiter may have taken the hint meanwhile.
        await announceWaiter(this.fs, this.lockPath);
        // Commits hold the lock for a few ms: poll fast, with jitter so waiters spread out.
        const delay = backoff * (0.5 + Math.random() * 0.5);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        await sleep(Math.min(delay, this.timeoutMs - elapsed));
      }
    } catch (err) {
      throw StorageError.from(err, 'STORAGE_IO');
    }
  }

  private timeoutError(holder: ObservedLock, waitedMs: number): StorageError {
    const s = holder.stamp;
    const who = s
      ? `pid ${s.pid} on host ${s.hostname} since ${s.acquiredAt}`
      : `an unreadable lock file (last modified ${new Date(holder.mtimeMs).toISOString()})`;
    return new StorageError('LOCK_TIMEOUT', `media library of project ${this.project} is locked by ${who}`, {
      project: this.project,
      holder: s,
      waitedMs: Math.round(waitedMs),
    });
  }
}
