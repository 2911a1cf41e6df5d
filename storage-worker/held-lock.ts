/**
 * A held project lock: its renewal (the mtime, every staleMs/3), its fence
 * (`assertHeld()`), and its release — all as stated at the top of
 * project-lock.ts ("Fencing", "The window that remains").
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../shared/errors.js';
import { errnoCode } from './fs-seam.js';
import { CLAIM_STALE_MS, exists, FIRST_BACKOFF_MS, MAX_BACKOFF_MS, withClaim, type LockContext } from './lock-claim.js';
import type { LockClock } from './lock-clock.js';
import { unlinkIfPresent } from './temp-file-publish.js';
import { claimPath, observeLock, parseStamp, type LockStamp } from './lock-stamp.js';

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


/** What a holder is told while it holds (ProjectLockOptions passes them on). */
export interface HolderCallbacks {
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


export interface HeldLockSettings {
  staleMs: number;
  project: string;
  clock: LockClock;
  options: HolderCallbacks;
}

export class HeldLock implements LockHandle {
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
