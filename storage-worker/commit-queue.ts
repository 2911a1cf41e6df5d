/**
 * One project's group-commit queue (invariants 1 and 4 of
 * docs/architecture.md): operations are queued in arrival order, and one
 * loop commits everything that queued up while the previous commit ran as
 * the next single batch. It knows nothing of files or locks: what a commit
 * is, and what "idle" means (give the lock back), are handed to it.
 */
import { StorageError } from '../shared/errors.js';
import { FLUSH, type Operation } from './operation.js';
import type { WorkerCounters } from './worker-counters.js';

/** An operation with its caller's promise, and once applied its outcome. */
export interface Queued {
  op: Operation<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: StorageError) => void;
  outcome?: { ok: true; value: unknown } | { ok: false; error: StorageError };
}

/**
 * What the queue runs. `Carry` is what a batch may leave for the next one
 * (the commit of the next batch settles it, whatever happens).
 */
export interface BatchCommitter<Carry> {
  /** Commits one batch and settles `carried`; resolves to what it leaves for the next batch, if anything. */
  commit(batch: Queued[], carried: Carry | null): Promise<Carry | null>;
  /** The queue is empty: give the lock back. */
  idle(): Promise<void>;
  /** Whether the lock is still held (looked at only when the loop itself threw). */
  holdsLock(): boolean;
  /** The loop itself threw with `carried` not yet settled: fail its callers. */
  abandon(carried: Carry, error: StorageError): void;
}

/** gather: wait for returning callers at most this long, */
const GATHER_MAX_MS = 4;
/** and at most this share of the last commit's duration, */
const GATHER_SHARE = 0.6;
/** and only when the last commit ended this recently (else it is a new burst). */
const GATHER_RECENT_MS = 50;

export class CommitQueue<Carry> {
  private queue: Queued[] = [];
  private running: Promise<void> | null = null;
  /** the single commit running now, if any (reads wait for it, not for the whole queue) */
  private inFlightCommit: Promise<unknown> | null = null;
  /** the last batch committed: callers in flight when it ended, and how long it took (for gather) */
  private lastBatch: { size: number; ms: number; endedAt: number } | null = null;
  private gatherWaiter: { target: number; done: () => void } | null = null;
  private closed = false;

  constructor(
    private readonly projectId: string,
    private readonly counters: WorkerCounters,
    private readonly committer: BatchCommitter<Carry>,
  ) {}

  /** The commit running now, if any. */
  get inFlight(): Promise<unknown> | null {
    return this.inFlightCommit;
  }

  /** Whether a write (anything but a reload) is waiting for the next batch. */
  hasWriteWaiting(): boolean {
    return this.queue.some((q) => q.op !== FLUSH);
  }

  enqueue<R>(op: Operation<R>): Promise<R> {
    if (this.closed) {
      return Promise.reject(new StorageError('STORAGE_UNAVAILABLE', `project ${this.projectId} is closing`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.counters.queueDepth++;
      if (this.gatherWaiter && (this.queue.length >= this.gatherWaiter.target || op === FLUSH)) this.gatherWaiter.done();
      if (!this.running) this.running = this.drainQueue();
    });
  }

  /** Commit what is queued, then refuse new operations. */
  async close(): Promise<number> {
    let ops = 0;
    while (this.running || this.queue.length > 0) {
      ops += this.queue.length;
      if (this.running) await this.running;
      else this.running = this.drainQueue();
    }
    this.closed = true;
    return ops;
  }

  private async drainQueue(): Promise<void> {
    /** what the previous batch left for this loop's next batch to carry */
    let carried: Carry | null = null;
    try {
      // Starting from idle: let messages already waiting on the port (the rest
      // of an autosave burst — page, header and footer sent together) be
      // queued first, so they share this commit instead of the next.
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (;;) {
        // A carried trim's callers wait for the next commit: start it at once
        // (they cannot come back before it, so there is nothing to gather).
        if (!carried) await this.gather();
        if (this.queue.length === 0 && !carried) {
          // No more work: give the lock back. An operation may arrive during
          // that await and finds this loop still running, so look again.
          await this.committer.idle();
          if (this.queue.length === 0) break;
          continue;
        }
        // Group commit: everything that queued up while the previous commit ran goes out now.
        const batch = this.queue;
        this.queue = [];
        const started = performance.now();
        const commit = this.committer.commit(batch, carried);
        carried = null; // the commit settles it, whatever happens to its own batch
        this.inFlightCommit = commit;
        carried = await commit;
        this.inFlightCommit = null;
        this.counters.queueDepth -= batch.length;
        // Callers in flight now: those just answered (they tend to come back)
        // plus those that queued up meanwhile.
        this.lastBatch = { size: batch.length + this.queue.length, ms: performance.now() - started, endedAt: performance.now() };
      }
    } finally {
      // Synchronous from the last check of the queue to here, so no operation
      // can be queued without a loop to run it.
      this.running = null;
      // Only if the loop itself threw (a commit settles what it is given):
      // its content files are published, its trim is not — fail it like a
      // batch whose trim write failed.
      if (carried) this.committer.abandon(carried, new StorageError('INTERNAL', 'the commit that was to carry this batch\'s exact marks did not run'));
      if (this.committer.holdsLock()) void this.committer.idle(); // only if the loop itself threw
    }
  }

  /**
   * The callers a commit just acknowledged usually come straight back with
   * their next operation (autosave loops, a client with C requests in flight).
   * Starting the next commit with only the first of them would split them
   * into alternating half-batches for good; waiting a fraction of a commit
   * for them lets one commit carry all of them. The wait ends as soon as they
   * are all here, is bounded (GATHER_MAX_MS, and a share of the last commit's
   * time), and never applies to a waiting read. With the queue empty it is
   * the same wait for a lone caller's next operation, under the same lease.
   */
  private gather(): Promise<void> {
    const last = this.lastBatch;
    if (
      !last ||
      this.closed ||
      this.queue.length >= last.size ||
      performance.now() - last.endedAt > GATHER_RECENT_MS ||
      this.queue.some((q) => q.op === FLUSH)
    ) {
      return Promise.resolve();
    }
    const waitMs = Math.min(GATHER_MAX_MS, Math.max(1, last.ms * GATHER_SHARE));
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.gatherWaiter = null;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.gatherWaiter = { target: last.size, done };
    });
  }
}

/** Settles each caller of a committed batch with its operation's outcome. */
export function answer(batch: Queued[], counters: WorkerCounters): void {
  for (const q of batch) {
    const outcome = q.outcome;
    if (outcome?.ok) {
      counters.operations++;
      q.resolve(outcome.value);
    } else q.reject(outcome?.error ?? new StorageError('INTERNAL', 'operation was not applied'));
  }
}
