/**
 * Time as the lock sees it, and how it judges a lock's age without trusting
 * anybody's wall clock.
 *
 * A lock file's mtime is written with the HOLDER's wall clock and read with
 * the WAITER's: "now - mtime > staleMs" is wrong by the skew between two hosts
 * and by any clock step on either side (NTP, a VM resumed, an operator), so a
 * live lock could look old. Instead a waiter only asks "has this very instance
 * (nonce + mtime) stayed unchanged for staleMs of MY monotonic time since I
 * first saw it?". The holder changes the mtime every staleMs/3, so a live
 * holder's lock never stays unchanged that long, whatever the clocks say. The
 * cost: a waiter that starts after a holder died waits staleMs from its first
 * look, not from the holder's death (only for holders it cannot judge dead).
 */
import { performance } from 'node:perf_hooks';
import type { ObservedLock } from './lock-stamp.js';

/** The seam for time: tests step `wall` to prove no decision depends on it. */
export interface LockClock {
  /** ms, never goes back (performance.now) */
  monotonic(): number;
  /** ms since the epoch (Date.now): only ever WRITTEN into mtimes, never compared */
  wall(): number;
}

export const systemClock: LockClock = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
};

/** How many instances one watch remembers: one path has one instance at a time, a few are in flux. */
const MAX_REMEMBERED = 32;

/** Remembers when this process first saw each lock instance (key + mtime), on the monotonic clock. */
export class InstanceAgeWatch {
  private readonly firstSeen = new Map<string, number>();

  constructor(readonly clock: LockClock) {}

  /** ms of my monotonic time for which `lock` has been seen unchanged (0 on first sight). */
  unchangedForMs(lock: ObservedLock): number {
    const id = `${lock.key}@${lock.mtimeMs}`;
    const now = this.clock.monotonic();
    const seen = this.firstSeen.get(id);
    if (seen !== undefined) return now - seen;
    if (this.firstSeen.size >= MAX_REMEMBERED) {
      // Maps iterate in insertion order: forget the oldest sighting.
      const oldest = this.firstSeen.keys().next().value;
      if (oldest !== undefined) this.firstSeen.delete(oldest);
    }
    this.firstSeen.set(id, now);
    return 0;
  }
}
