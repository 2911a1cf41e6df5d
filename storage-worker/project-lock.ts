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
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../shared/errors.js';
import { errnoCode, realFs, type FsSeam } from './fs-seam.js';
import { InstanceAgeWatch, systemClock, type LockClock } from './lock-clock.js';
import { claimPath, makeStamp, observeLock, parseStamp, serializeStamp, type LockStamp, type ObservedLock } from './lock-stamp.js';
import { currentProcess, holderState, type HolderStateOptions, type ProcessIdentity } from './process-identity.js';
import { makeTempName } from './temp-file-name.js';

export type { LockStamp } from './lock-stamp.js';

/** A claim older than this is taken over even when its creator looks alive (it should live for microseconds). */
export const CLAIM_STALE_MS = 2000;
/** How many dead claimants in a row a breaker steps over before waiting for the sweep. */
const MAX_CLAIM_DEPTH = 8;
const FIRST_BACKOFF_MS = 1;
const MAX_BACKOFF_MS = 25;

export interface CompromisedInfo {
  /** my stamp */
  stamp: LockStamp;
  /** what the lock file holds instead (null: nothing, or garbled; my own stamp when `reason` is 'stalled') */
  found: LockStamp | null;
  during: 'refresh' | 'release' | 'assert';
  /**
   * taken: the lock file no longer carries my nonce; stalled: it still does,
   * but I stalled so long that someone may be removing it right now (a break
   * claim on it exists, or my renewal came too late to count).
   */
  reason: 'taken' | 'stalled';
}

export interface ProjectLockOptions extends HolderStateOptions {
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
  /** the lock no longer carries my nonce (taken over while I held it): do not trust the commit */
  onCompromised?: (info: CompromisedInfo) => void;
  /** refreshing the mtime failed (the next tick retries; if it keeps failing the lock ages) */
  onRefreshError?: (err: unknown) => void;
}

export interface LockHandle {
  readonly stamp: LockStamp;
  /** how long acquire() waited, ms */
  readonly waitedMs: number;
  /** this acquire() removed a stale lock on its way */
  readonly tookOver: boolean;
  /** the lock file still carries my nonce */
  verify(): Promise<boolean>;
  /**
   * The fence: resolves only while this handle provably holds the lock;
   * otherwise throws LOCK_LOST (and stays compromised). Call it right before
   * publishing (the rename) and before reusing a held lock for another commit.
   * One read of the lock file, plus a renewal after a stall.
   */
  assertHeld(): Promise<void>;
  /** a takeover (or a stall that may have allowed one) was seen at some point; never resets */
  readonly compromised: boolean;
  /** removes the lock if it is still mine (else reports onCompromised); idempotent */
  release(): Promise<void>;
}

/** What the claim protocol needs: where, how, which judge of liveness, and who we are. */
export interface LockContext {
  fs: FsSeam;
  lockPath: string;
  holderOptions: HolderStateOptions;
  /** how long this party has watched each claim unchanged */
  claimWatch: InstanceAgeWatch;
  identity: ProcessIdentity;
}

type RemoveResult = 'removed' | 'changed' | 'busy';

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
        if (await publish(this.fs, this.lockPath, stamp)) {
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

interface HeldLockSettings {
  staleMs: number;
  project: string;
  clock: LockClock;
  options: ProjectLockOptions;
}

class HeldLock implements LockHandle {
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private released: Promise<void> | undefined;
  /** the first sign of a takeover (or of a stall that may have allowed one); never cleared */
  private lost: CompromisedInfo | null = null;
  /** the mtime we last wrote (wall ms): each renewal writes a different one, even if the wall clock stepped back */
  private lastMtimeMs = 0;
  private readonly staleMs: number;
  private readonly clock: LockClock;

  constructor(
    private readonly ctx: LockContext,
    readonly stamp: LockStamp,
    readonly waitedMs: number,
    readonly tookOver: boolean,
    /**
     * My monotonic time at or before the moment the lock's current mtime was
     * set (publish, then each renewal). Anyone who judges the lock by age
     * starts counting at or after that moment, so nobody can remove it
     * before freshAt + staleMs.
     */
    private freshAt: number,
    private readonly settings: HeldLockSettings,
  ) {
    this.staleMs = settings.staleMs;
    this.clock = settings.clock;
    // unref: a held lock alone must not keep a process alive.
    this.timer = setInterval(() => void this.refresh(), Math.max(1, this.staleMs / 3)).unref();
  }

  get compromised(): boolean {
    return this.lost !== null;
  }

  async verify(): Promise<boolean> {
    const now = await observeLock(this.ctx.fs, this.ctx.lockPath);
    return now !== null && now.key === this.stamp.nonce;
  }

  async assertHeld(): Promise<void> {
    try {
      if (this.lost === null) {
        if (this.sinceFresh() < this.staleMs / 2) {
          const found = await this.readStamp();
          if (found?.nonce !== this.stamp.nonce) this.markLost({ found, during: 'assert', reason: 'taken' });
        }
        // Stalled since the last renewal (a pause, GC, a blocked event loop, a
        // slow disk), maybe during the read just now: prove it afresh.
        if (this.lost === null && this.sinceFresh() >= this.staleMs / 2) await this.renew('assert');
        // A renewal that itself stalled leaves too little margin: give up.
        if (this.lost === null && this.sinceFresh() >= this.staleMs / 2) {
          this.markLost({ found: this.stamp, during: 'assert', reason: 'stalled' });
        }
      }
    } catch (err) {
      throw StorageError.from(err, 'STORAGE_IO');
    }
    if (this.lost !== null) throw this.lostError(this.lost);
  }

  release(): Promise<void> {
    this.released ??= this.doRelease();
    return this.released;
  }

  private sinceFresh(): number {
    return this.clock.monotonic() - this.freshAt;
  }

  private async refresh(): Promise<void> {
    if (this.refreshing || this.timer === undefined) return;
    this.refreshing = true;
    try {
      await this.renew('refresh');
    } catch (err) {
      // Not a compromise by itself; the next tick tries again.
      if (this.released === undefined) this.settings.options.onRefreshError?.(err);
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * Sets a new mtime, then proves nobody is removing the lock:
   *   1. utimes: from now on a breaker's re-check under its claim sees a
   *      changed instance and leaves it alone;
   *   2. no claim on my nonce exists: a breaker whose re-check came before
   *      step 1 still held its claim then, so it would be seen here — unless
   *      it had already unlinked the lock and dropped the claim, and then
   *   3. the lock no longer carries my nonce.
   * Passing all three, the lock is mine and freshAt moves to before step 1.
   * Steps 2–3 make this safe after a stall of any length, without trusting
   * any clock.
   */
  private async renew(during: 'refresh' | 'assert'): Promise<void> {
    const { fs, lockPath } = this.ctx;
    // Once release() has begun, a vanished lock or our own claim is release's doing.
    const releasing = (): boolean => during === 'refresh' && this.released !== undefined;
    const started = this.clock.monotonic();
    const mtimeMs = Math.max(this.clock.wall(), this.lastMtimeMs + 1);
    const t = new Date(mtimeMs);
    try {
      await fs.utimes(lockPath, t, t);
      this.lastMtimeMs = mtimeMs;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      if (!releasing()) this.markLost({ found: null, during, reason: 'taken' });
      return;
    }
    if (releasing()) return;
    if (await exists(fs, claimPath(lockPath, this.stamp.nonce))) {
      if (!releasing()) this.markLost({ found: this.stamp, during, reason: 'stalled' });
      return;
    }
    const found = await this.readStamp();
    if (releasing()) return;
    if (found?.nonce !== this.stamp.nonce) {
      this.markLost({ found, during, reason: 'taken' });
      return;
    }
    this.freshAt = Math.max(this.freshAt, started);
  }

  /** The stamp in the lock file now (null: none, or garbled): one read. */
  private async readStamp(): Promise<LockStamp | null> {
    try {
      return parseStamp(await this.ctx.fs.readFile(this.ctx.lockPath));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  private markLost(info: Omit<CompromisedInfo, 'stamp'>): void {
    const full: CompromisedInfo = { stamp: this.stamp, ...info };
    this.lost ??= full;
    // Refreshing a lock that is not ours (or may be going) would only keep it from its real fate.
    this.stopRefresh();
    this.settings.options.onCompromised?.(full);
  }

  private lostError(info: CompromisedInfo): StorageError {
    const what = info.reason === 'taken' ? 'was taken over' : 'may have been taken over after a stall';
    return new StorageError('LOCK_LOST', `the media library lock of project ${this.settings.project} ${what}: nothing was published`, {
      project: this.settings.project,
      during: info.during,
      reason: info.reason,
      holder: info.found,
    });
  }

  private stopRefresh(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async doRelease(): Promise<void> {
    const { fs, lockPath } = this.ctx;
    // Fast path, the common case of a commit that held the lock for a few ms:
    // while our mtime is younger than half the stale limit, no breaker can
    // judge this lock stale (see freshAt), so nobody can hold a claim on our
    // nonce or replace the lock between our read and our unlink. One read
    // still checks the file is ours (something outside the protocol may have
    // put another there); then a plain unlink is safe. The claim protocol
    // below costs ~10 file operations — a fifth of a whole commit.
    if (this.sinceFresh() < this.staleMs / 2) {
      this.stopRefresh();
      const found = await this.readStamp();
      if (found?.nonce === this.stamp.nonce) {
        await unlinkIfPresent(fs, lockPath);
        return;
      }
      this.markLost({ found, during: 'release', reason: 'taken' });
      return;
    }
    // Keep refreshing until the lock is gone: a breaker that holds the claim on
    // our nonce must see the lock fresh and leave it alone.
    try {
      const deadline = this.clock.monotonic() + Math.max(this.staleMs, CLAIM_STALE_MS * 2);
      let backoff = FIRST_BACKOFF_MS;
      for (;;) {
        const outcome = await withClaim(this.ctx, this.stamp.nonce, 0, async (stillSafe) => {
          const now = await observeLock(fs, lockPath);
          if (now === null || now.key !== this.stamp.nonce) return { found: now };
          // Our claim grew old under a stall: someone may be breaking it; retry.
          if (!stillSafe()) return 'busy' as const;
          await unlinkIfPresent(fs, lockPath);
          return 'released' as const;
        });
        if (outcome === 'released') return;
        if (outcome !== 'busy') {
          this.markLost({ found: outcome.found?.stamp ?? null, during: 'release', reason: 'taken' });
          return;
        }
        // Someone judged our lock stale and is re-checking it under the claim.
        if (this.clock.monotonic() > deadline) {
          throw new StorageError('STORAGE_IO', `could not release lock ${lockPath}: its claim stays taken`);
        }
        await sleep(backoff * (0.5 + Math.random() * 0.5));
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    } catch (err) {
      throw StorageError.from(err, 'STORAGE_IO');
    } finally {
      this.stopRefresh();
    }
  }
}

async function exists(fs: FsSeam, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Creates `path` holding `stamp`, atomically complete: stamp written to a
 * unique temp file, linked onto `path`, temp unlinked. false: `path` exists.
 */
async function publish(fs: FsSeam, path: string, stamp: LockStamp): Promise<boolean> {
  const temp = makeTempName(path);
  const file = await fs.open(temp, 'wx', 0o644);
  let linked = false;
  try {
    try {
      await file.writeAll(serializeStamp(stamp));
    } catch (err) {
      await file.close();
      throw err;
    }
    // The stamp is written: link it into place while the descriptor closes
    // (the link sees the complete content either way) — one round trip less
    // on every commit's critical path.
    const [closed, link] = await Promise.allSettled([file.close(), fs.link(temp, path)]);
    if (link.status === 'rejected') {
      if (errnoCode(link.reason) === 'EEXIST') return false;
      throw link.reason;
    }
    linked = true;
    if (closed.status === 'rejected') {
      // Not a lock we can vouch for: take it back before reporting the failure.
      await unlinkIfPresent(fs, path);
      linked = false;
      throw closed.reason;
    }
  } finally {
    try {
      await unlinkIfPresent(fs, temp);
    } catch (err) {
      // We just made `path`: it is ours alone (alive, fresh), so undo it
      // rather than return holding a lock while reporting a failure.
      if (linked) await unlinkIfPresent(fs, path);
      throw err;
    }
  }
  return true;
}

async function unlinkIfPresent(fs: FsSeam, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    // Already gone is the state we wanted.
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Removes `path` if it still is the instance `judged` and still stale, under
 * the claim on that instance (see the top of this file).
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
async function withClaim<T>(
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
    if (await publish(ctx.fs, path, stamp)) {
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

/**
 * Waiter hints. A holder that keeps the lock over back-to-back commits (a
 * lease) and takes it again at once would starve a waiter in another process
 * that polls every few ms. A waiter therefore leaves `<lock>.wanted`; a holder
 * whose lease ran out looks for it before taking the lock again and, if it is
 * there, removes it and steps aside until someone else has taken the lock
 * (bounded). It is only a hint: lost, stale or duplicated hints cost at most
 * one short pause, never correctness.
 */
export function waiterHintPath(lockPath: string): string {
  return `${lockPath}.wanted`;
}

async function announceWaiter(fs: FsSeam, lockPath: string): Promise<void> {
  try {
    const file = await fs.open(waiterHintPath(lockPath), 'w');
    await file.close();
  } catch (err) {
    // A hint that cannot be left only makes this waiter wait longer.
    if (errnoCode(err) === undefined) throw err;
  }
}

/** True (and the hint removed) when a waiter announced itself. */
export async function takeWaiterHint(fs: FsSeam, lockPath: string): Promise<boolean> {
  try {
    await fs.unlink(waiterHintPath(lockPath));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false; // nobody waiting
    throw err;
  }
}
