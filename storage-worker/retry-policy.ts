/**
 * Bounded exponential backoff with jitter for file operations.
 *
 * Transient codes are the ones another party causes for a moment and then
 * stops causing: a virus scanner or indexer holding the file (EPERM, EBUSY,
 * EACCES on Windows), a temp file removed underneath us (ENOENT), a
 * non-blocking resource momentarily unavailable (EAGAIN). Everything else —
 * ENOSPC, EIO, EROFS, EDQUOT, and any code we do not know — will not fix
 * itself within milliseconds, so it fails at once instead of making the
 * caller wait for nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoCode } from './fs-seam.js';

export const TRANSIENT_ERRNO_CODES: ReadonlySet<string> = new Set(['ENOENT', 'EPERM', 'EBUSY', 'EACCES', 'EAGAIN']);

export interface RetryPolicy {
  /** total tries, the first included (>= 1) */
  attempts: number;
  /** delay before the first retry, before jitter */
  baseMs: number;
  /** upper bound of any single delay */
  maxMs: number;
  /** whether an error may go away by itself */
  isTransient: (err: unknown) => boolean;
  /** called before each retry's wait; `attempt` is the 1-based try that failed */
  onRetry?: (code: string, attempt: number, delayMs: number) => void;
}

/** An errno error whose code is in TRANSIENT_ERRNO_CODES. */
export function isTransientError(err: unknown): boolean {
  const code = errnoCode(err);
  return code !== undefined && TRANSIENT_ERRNO_CODES.has(code);
}

/** Worst case with these: 4 waits of at most 10+20+40+80 ms = 150 ms before giving up. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  baseMs: 10,
  maxMs: 250,
  isTransient: isTransientError,
});

/**
 * The wait after failed try `attempt` (1-based): the exponential step
 * `min(maxMs, baseMs * 2^(attempt-1))`, then "equal jitter" — half of it
 * fixed, half random — so retrying writers spread out (two processes that
 * collided once do not collide again in lockstep) while still waiting long
 * enough for a briefly held file to be released.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Runs `fn` until it resolves, a non-transient error is thrown, or the tries
 * are used up; the last error is rethrown unchanged. `fn` gets the 1-based try
 * number so it can start each try from scratch (e.g. a fresh temp name).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: Partial<RetryPolicy> = {}): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options };
  const attempts = Math.max(1, Math.floor(policy.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !policy.isTransient(err)) throw err;
      const delayMs = backoffDelay(attempt, policy.baseMs, policy.maxMs);
      policy.onRetry?.(errnoCode(err) ?? 'UNKNOWN', attempt, delayMs);
      if (delayMs > 0) await sleep(delayMs);
    }
  }
}
