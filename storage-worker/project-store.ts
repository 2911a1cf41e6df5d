/**
 * One project's media library inside the storage worker: its lowdb
 * instance, its group-commit queue, its cross-process lock, and the rules
 * that keep memory, disk and other processes in agreement.
 *
 * Invariants (docs/architecture.md explains why each exists):
 * 1. Operations apply in arrival order; every operation that arrives while a
 *    commit runs goes out together in the next single commit.
 * 2. A caller's promise settles only after the commit holding its operation
 *    is durable (temp fsync → rename → directory fsync).
 * 3. Memory never runs ahead of disk: a batch works on a copy-on-write draft
 *    that replaces the committed state only after the write succeeded.
 * 4. Every commit runs under the project's lock file and starts by checking
 *    whether another process changed media.json (its generation nonce and
 *    stat, generation-file.ts — never the mtime alone); if so it reloads
 *    first, so no process ever overwrites another's acknowledged update.
 *    Every rename that publishes a file is fenced: it happens only while the
 *    lock file still carries this process's nonce (a takeover seen at any
 *    point fails the whole batch, nothing acknowledged).
 * 5. Usage is never under-marked on disk, and exact when acknowledged: a
 *    batch with content saves first commits the union of each source's old
 *    and new marks, then writes the content files, then commits the exact
 *    marks — all under one lock hold, before any caller is answered. A crash
 *    in between leaves over-marks only, of a save nobody was told succeeded;
 *    the next open, or the next process to take the dead lock, reconciles them.
 *    When the next batch is already queued, the exact marks ride in its first
 *    commit instead (CarriedTrim), still under the same lock hold and still
 *    before the carried callers are answered.
 * 6. A document that fails validation is never replaced by an empty one.
 */
import { basename, dirname, join } from 'node:path';
import { Low } from 'lowdb';
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import { THEME_SOURCE, type MediaDocument, type MediaRecord } from '../shared/media-types.js';
import { CONTENT_DIRS, GLOBALS_DIR, isQuarantineName, lockFileOf, mediaFileOf, PAGES_DIR, quarantineFileOf, THEME_FILE } from '../shared/project-paths.js';
import { applyContentChanges, type ContentChange } from './content-batch.js';
import { contentFileOf, sourceOfGlobalFile, sourceOfPageFile } from './content-files.js';
import { DocumentDraft, usageBySourceOf, type CommittedState } from './document-draft.js';
import { fsyncDirectory } from '../shared/directory-sync.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { sweepLeftovers } from './leftover-sweep.js';
import { isTransientError, withRetry } from './retry-policy.js';
import { MediaDocumentFile } from './media-document-file.js';
import { ProjectLock, takeWaiterHint, waiterHintPath, type LockHandle, type LockStamp } from './project-lock.js';
import type { WorkerCounters } from './worker-counters.js';
import { extractMediaPaths, MediaPathIndex } from './usage-extraction.js';

export interface ProjectStoreOptions {
  fs: FsSeam;
  logger: pino.Logger;
  counters: WorkerCounters;
  lockTimeoutMs: number;
  staleLockMs: number;
  /** whether a thread of this process still runs: a dead storage worker's locks are dead too */
  isThreadAlive: (threadId: number) => boolean;
  /**
   * This store took over a dead or stale lock: its holder may have died
   * between the two commits of a content batch, leaving over-marks. The
   * owner queues a reconcile of usage with the content files.
   */
  onLockTakeover?: (store: ProjectStore) => void;
}

/**
 * What a batch collects for the content files it must write or remove, and
 * the exact marks each such source must have once its file is in place.
 */
export class ContentActions {
  /** source → the last action of the batch for it (later saves of a source supersede earlier ones) */
  readonly bySource = new Map<string, { kind: 'write'; text: string } | { kind: 'delete' }>();
  /** source → the file ids it marks once the batch's content files are durable */
  readonly exactUsage = new Map<string, string[]>();

  write(source: string, text: string, fileIds: string[]): void {
    this.bySource.delete(source); // keep arrival order of the final actions
    this.bySource.set(source, { kind: 'write', text });
    this.exactUsage.set(source, fileIds);
  }

  remove(source: string): void {
    this.bySource.delete(source);
    this.bySource.set(source, { kind: 'delete' });
    this.exactUsage.set(source, []);
  }

  /** A later setUsage of a source this batch also saves: its marks win. */
  overrideUsage(source: string, fileIds: string[]): void {
    if (this.exactUsage.has(source)) this.exactUsage.set(source, fileIds);
  }

  get size(): number {
    return this.bySource.size;
  }
}

/** A queued operation. `apply` must validate before it mutates the draft, so a failure changes nothing. */
export interface Operation<R> {
  readonly kind: string;
  /** the content source this operation's result depends on, if it writes or removes a content file */
  readonly contentSource?: string;
  apply(draft: DocumentDraft, content: ContentActions, store: ProjectStore): R | Promise<R>;
}

interface Queued {
  op: Operation<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: StorageError) => void;
  outcome?: { ok: true; value: unknown } | { ok: false; error: StorageError };
}

/**
 * A batch whose union marks and content files are durable, and whose exact
 * marks (the trim) ride in the next batch's first media.json write instead
 * of a write of their own. Its callers are answered once that write is
 * durable. Only made while the lease is held and the next batch follows at
 * once under it, so nothing but this process can have changed the project
 * between the content renames and the trim.
 */
interface CarriedTrim {
  batch: Queued[];
  /** source → its exact marks (sources whose content file failed are left out: they keep the union) */
  exact: Map<string, string[]>;
  /** when the carried batch started (its commit time runs until its answer) */
  started: number;
}

/**
 * Content files read and scanned for media paths OUTSIDE the lock (a big
 * page costs a parse and a scan); applied under it only if no commit has
 * happened since (same generation nonce), else read again under the lock.
 */
export interface ContentScan {
  generation: string;
  paths: Map<string, string[]>;
}
/** back-to-back commits keep the lock at most this long before giving others a turn */
const LEASE_MS = 30;
/** how long an expired lease waits for a waiting process to take the lock */
const STEP_ASIDE_MAX_MS = 30;
/** a lock wait at least this long is logged as a warning */
const LOCK_WAIT_WARN_MS = 100;
const EMPTY_DOCUMENT_JSON = new TextEncoder().encode('{\n  "files": []\n}');
/** gather: wait for returning callers at most this long, */
const GATHER_MAX_MS = 4;
/** and at most this share of the last commit's duration, */
const GATHER_SHARE = 0.6;
/** and only when the last commit ended this recently (else it is a new burst). */
const GATHER_RECENT_MS = 50;

export class ProjectStore {
  readonly mediaPath: string;
  private readonly uploadsDir: string;
  private readonly file: MediaDocumentFile;
  private readonly db: Low<MediaDocument>;
  private readonly lock: ProjectLock;
  private readonly lockPath: string;
  private state: CommittedState | null = null;
  /** set while media.json is corrupt with no good version to restore: every access refuses */
  private corrupt: { error: StorageError; signature: string | null } | null = null;
  private queue: Queued[] = [];
  private running: Promise<void> | null = null;
  /** the single commit running now, if any (reads wait for it, not for the whole queue) */
  private inFlight: Promise<unknown> | null = null;
  /** the last batch committed: callers in flight when it ended, and how long it took (for gather) */
  private lastBatch: { size: number; ms: number; endedAt: number } | null = null;
  private gatherWaiter: { target: number; done: () => void } | null = null;
  /** the lock while back-to-back commits share it (see takeLock) */
  private lease: { handle: LockHandle; since: number } | null = null;
  /** the last lease ended by its time limit, not for lack of work: give waiters a turn first */
  private leaseExpired = false;
  /** who held the lock when this process last had to wait for it */
  private lastLockHolder: LockStamp | null = null;
  private readonly ensuredDirs = new Set<string>();
  private closed = false;
  /**
   * Content files were renamed and the generation nonce not yet replaced (a
   * carried trim's batch: its carrier replaces it). A content scan tagged with
   * the current nonce may then predate those files: isCurrent must say no.
   */
  private contentUnpublished = false;

  constructor(
    readonly projectId: string,
    readonly dir: string,
    private readonly opts: ProjectStoreOptions,
  ) {
    this.mediaPath = mediaFileOf(dir);
    this.uploadsDir = dirname(this.mediaPath);
    this.file = new MediaDocumentFile(this.mediaPath, opts.fs, {
      onRetry: (code) => {
        opts.counters.retry(code);
        opts.logger.warn({ project: projectId, errno: code }, 'retrying media.json write after a transient error');
      },
      onWarning: (w) => opts.logger.warn({ project: projectId, ...w }, 'media.json write warning'),
    });
    this.db = new Low<MediaDocument>(this.file, { files: [] });
    this.lockPath = lockFileOf(this.mediaPath);
    this.lock = new ProjectLock(this.lockPath, {
      fs: opts.fs,
      timeoutMs: opts.lockTimeoutMs,
      staleMs: opts.staleLockMs,
      isThreadAlive: opts.isThreadAlive,
      project: projectId,
      onWait: (holder) => {
        this.lastLockHolder = holder;
      },
      onTakeover: (holder) => {
        opts.counters.staleLockTakeovers++;
        opts.logger.warn({ project: projectId, holder }, 'took over a stale media.json lock');
      },
      onCompromised: (holder) =>
        opts.logger.error({ project: projectId, holder }, 'media.json lock was taken from this process while it held it'),
    });
  }

  /** Sweep leftovers of dead processes and load (recovering if needed) the document. */
  async open(): Promise<{ files: number; sweptTemps: number; sweptLocks: number; recovered: string | null }> {
    await this.opts.fs.mkdir(this.uploadsDir);
    const swept = await sweepLeftovers(this.uploadsDir, { fs: this.opts.fs, isThreadAlive: this.opts.isThreadAlive });
    // Content files (pages, global widgets, theme, project.json) are written
    // through temp files beside them too; a process killed mid-save leaves
    // those behind in the project's own folders (found by the chaos harness).
    for (const sub of CONTENT_DIRS) {
      const more = await sweepLeftovers(join(this.dir, sub), { fs: this.opts.fs, isThreadAlive: this.opts.isThreadAlive });
      swept.removedTemps.push(...more.removedTemps.map((name) => join('..', sub, name)));
      swept.removedLocks.push(...more.removedLocks.map((name) => join('..', sub, name)));
    }
    if (swept.removedTemps.length + swept.removedLocks.length > 0) {
      this.opts.logger.info(
        { project: this.projectId, removedTemps: swept.removedTemps, removedLocks: swept.removedLocks },
        'removed leftovers of dead processes',
      );
    }
    const recovered = await this.load(false);
    return {
      files: this.state?.doc.files.length ?? 0,
      sweptTemps: swept.removedTemps.length,
      sweptLocks: swept.removedLocks.length,
      recovered,
    };
  }

  // --- reads ---------------------------------------------------------------

  /**
   * The committed state, fresh: reflects every write acknowledged before this
   * call, by this process (waits for a running commit) or by another one
   * (a stat and a read of the generation nonce; reload only when they changed).
   */
  async read(): Promise<{ state: CommittedState; json: Uint8Array }> {
    if (this.inFlight) {
      // The commit in flight checked freshness under the lock, after every
      // other process's acknowledged commit (they needed that lock too).
      await this.inFlight;
    } else {
      const signature = await this.file.versionNow();
      const known = this.corrupt ? this.corrupt.signature : (this.file.last?.signature ?? null);
      if (this.inFlight) await this.inFlight;
      // State changes only inside the commit pipeline, so a reload is queued
      // like a commit (it writes nothing).
      else if (!this.state || signature !== known) await this.enqueue(FLUSH);
    }
    const state = this.committed();
    return { state, json: this.file.last?.json ?? EMPTY_DOCUMENT_JSON };
  }

  // --- writes --------------------------------------------------------------

  enqueue<R>(op: Operation<R>): Promise<R> {
    if (this.closed) {
      return Promise.reject(new StorageError('STORAGE_UNAVAILABLE', `project ${this.projectId} is closing`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.opts.counters.queueDepth++;
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
    /** the trim the previous batch left for this loop's next batch to carry */
    let carried: CarriedTrim | null = null;
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
          await this.endLease();
          if (this.queue.length === 0) break;
          continue;
        }
        // Group commit: everything that queued up while the previous commit ran goes out now.
        const batch = this.queue;
        this.queue = [];
        const started = performance.now();
        const commit = this.commitBatch(batch, carried);
        carried = null; // the commit settles it, whatever happens to its own batch
        this.inFlight = commit;
        carried = await commit;
        this.inFlight = null;
        this.opts.counters.queueDepth -= batch.length;
        // Callers in flight now: those just answered (they tend to come back)
        // plus those that queued up meanwhile.
        this.lastBatch = { size: batch.length + this.queue.length, ms: performance.now() - started, endedAt: performance.now() };
      }
    } finally {
      // Synchronous from the last check of the queue to here, so no operation
      // can be queued without a loop to run it.
      this.running = null;
      // Only if the loop itself threw (commitBatch settles what it is given):
      // its content files are published, its trim is not — fail it like a
      // batch whose trim write failed.
      if (carried) this.settleCarried(carried, new StorageError('INTERNAL', 'the commit that was to carry this batch\'s exact marks did not run'));
      if (this.lease) void this.endLease(); // only if the loop itself threw
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

  /**
   * The project lock for a commit. Back-to-back commits share one
   * acquisition (a lease of at most LEASE_MS): under load that saves the
   * lock's file operations and the freshness check on most commits, while
   * other processes still get the lock at least every LEASE_MS (plus a
   * commit). Resolves true when the lease was already held.
   */
  private async takeLock(): Promise<boolean> {
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
        { project: this.projectId, waitedMs: Math.round(handle.waitedMs), holder: holder ? { pid: holder.pid, hostname: holder.hostname, since: holder.acquiredAt } : null },
        'waited for the media.json lock',
      );
    }
    if (handle.tookOver) {
      // The dead holder may have renamed files without replacing the
      // generation nonce (it died before acknowledging): replace it now so
      // every process, this one included, reloads what it left.
      await this.file.generation.bump();
      this.opts.onLockTakeover?.(this);
    }
    return false;
  }

  /**
   * The fence of invariant 4: throws LOCK_LOST unless the lock file still
   * carries the nonce of the lease this commit runs under. Called right
   * before every rename that publishes a file, and at the start of a commit
   * that reuses a lease (the lease skips the freshness check, which is only
   * sound while nobody else can have held the lock).
   */
  private readonly fence = async (): Promise<void> => {
    const lease = this.lease;
    if (!lease) {
      throw new StorageError('LOCK_LOST', `project ${this.projectId}: a commit tried to publish without holding the media.json lock`, { project: this.projectId });
    }
    await lease.handle.assertHeld();
  };

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

  private async endLease(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    await lease?.handle.release().catch((err: unknown) =>
      this.opts.logger.warn({ project: this.projectId, err }, 'could not release media.json lock'),
    );
  }

  /**
   * Commits one batch. `carried`: the previous batch's exact marks, to be
   * written in this batch's first media.json write; they are settled here
   * whatever happens. Resolves to this batch's own trim when it is left for
   * the next batch to carry (its callers are then answered by that batch).
   */
  private async commitBatch(batch: Queued[], carried: CarriedTrim | null = null, retried = false): Promise<CarriedTrim | null> {
    const started = performance.now();
    // A batch of bare flushes writes nothing: it only reloads what another
    // process committed, which needs no lock (renames are atomic) — reads
    // after a foreign commit stay cheap.
    if (!carried && batch.every((q) => q.op === FLUSH)) {
      try {
        // Under a lease nobody else can have written: nothing to reload.
        if (!this.lease) await this.ensureFresh(false);
        for (const q of batch) q.resolve(undefined);
      } catch (err) {
        for (const q of batch) q.reject(StorageError.from(err));
      }
      return null;
    }
    let leased: boolean;
    try {
      leased = await this.takeLock();
      // A trim is carried only under a lease that did not end (see
      // canCarryTrim): a fresh acquisition means another process may
      // have saved the same sources since, and these marks would be stale.
      if (carried && !leased) throw new StorageError('LOCK_LOST', `project ${this.projectId}: the media.json lock was not held from a batch's content files to its exact marks; the save is not confirmed`, { project: this.projectId });
    } catch (err) {
      const error = StorageError.from(err);
      if (carried) this.settleCarried(carried, error);
      for (const q of batch) q.reject(error);
      return null;
    }
    const counters = this.opts.counters;
    let mark = started;
    const phase = (name: string) => {
      const now = performance.now();
      counters.phase(name, now - mark);
      mark = now;
    };
    phase('lock');
    let failure: StorageError | null = null;
    let bytes = 0;
    let retries = 0;
    let writes = 0;
    /** a rename of this batch happened (or may have: content files; a carried batch's were) */
    let published = carried !== null;
    let contentStarted = false;
    let ambiguous = false;
    /** this batch's trim, left for the next batch to carry */
    let carry: CarriedTrim | null = null;
    const content = new ContentActions();
    this.file.fence = this.fence;
    try {
      // A lease carried over from the previous commit (takeLock checked it is
      // still ours) means the lock was held throughout: nothing can have changed.
      if (!leased) await this.ensureFresh(true);
      phase('fresh');
      const state = this.committed();
      const draft = new DocumentDraft(state);
      // The carried trim first: this batch's operations apply on top of the
      // exact marks (a delete sees a file the previous save just dropped as
      // unused; a save of the same source unions with its exact marks).
      if (carried) for (const [source, fileIds] of carried.exact) draft.setSourceUsage(source, fileIds);
      for (const q of batch) {
        try {
          q.outcome = { ok: true, value: await q.op.apply(draft, content, this) };
        } catch (err) {
          q.outcome = { ok: false, error: StorageError.from(err) };
        }
      }
      phase('apply');
      const write = async (d: DocumentDraft) => {
        const doc = d.build();
        this.db.data = doc;
        try {
          await this.db.write();
        } catch (err) {
          // Failed after its rename (directory fsync): the new version is on disk all the same.
          if (err instanceof StorageError && err.details?.contentReplaced === true) published = true;
          throw err;
        }
        published = true;
        ambiguous ||= this.file.lastWriteAmbiguous;
        d.applyTo(state, doc);
        writes++;
        bytes += this.file.last?.bytes ?? 0;
        retries += this.file.last?.retries ?? 0;
      };
      // First commit: every operation's effect, content sources with the
      // union of their old and new marks (nothing a file on disk names is
      // unmarked while the content files are replaced).
      if (draft.dirty) await write(draft);
      phase('write');
      if (carried) {
        // The carried batch's exact marks are durable: tell every process (its
        // content files changed), then its callers — before this batch's own
        // content files, which they need not wait for.
        await this.file.publish();
        this.contentUnpublished = false;
        ambiguous = false;
        this.settleCarried(carried, null);
        carried = null;
      }
      if (content.size > 0) {
        published = true;
        contentStarted = true;
        const failed = await this.applyContentActions(content, batch);
        phase('content');
        // Second commit: the exact marks of every source whose file is now in
        // place. A source whose file could not be written keeps the union.
        const exact = new Map<string, string[]>();
        const trim = new DocumentDraft(state);
        for (const [source, fileIds] of content.exactUsage) {
          if (failed.has(source)) continue;
          exact.set(source, fileIds);
          trim.setSourceUsage(source, fileIds);
        }
        if (trim.dirty) {
          if (await this.canCarryTrim()) {
            carry = { batch, exact, started };
            this.contentUnpublished = true;
          } else await write(trim);
        }
        phase('trim');
      }
      // Tell every process a commit happened, before anyone is told it did,
      // where the files themselves may not: content files (the refresh's
      // pre-lock scan checks the nonce), or a media.json whose mtime bump the
      // file system rounded away (its stat signature may repeat an old one).
      // A carried trim's carrier does it once its write is durable.
      if (!carry && (ambiguous || content.size > 0)) {
        await this.file.publish();
        this.contentUnpublished = false;
      }
    } catch (err) {
      failure = StorageError.from(err, 'STORAGE_IO');
      const lockLost = failure.code === 'LOCK_LOST';
      // The draft is dropped; memory stays at the last write that succeeded.
      // If a failure came after a rename (directory fsync), disk moved on:
      // reload it — under the lock, unless the lock is no longer ours.
      this.db.data = this.state?.doc ?? { files: [] };
      if (!lockLost && published) {
        await this.file
          .publish()
          .then(() => (this.contentUnpublished = false))
          .catch(() => undefined);
      }
      await this.ensureFresh(!lockLost).catch(() => undefined);
    } finally {
      this.file.fence = undefined;
      const expired = performance.now() - (this.lease?.since ?? 0) >= LEASE_MS;
      // A carried trim needs the lease until its carrier's write: the carrier
      // runs next, at once, and ends the lease after itself if it expired.
      if (failure || (expired && !carry)) {
        this.leaseExpired = expired && !failure;
        await this.endLease();
        phase('release');
      }
    }
    const ms = performance.now() - started;
    // A carrier that failed before its first write was durable: the carried
    // batch's content files are published and its union marks durable, its
    // exact marks not. It fails exactly as a batch whose own trim write
    // failed does today (over-marks only, never an unmarked file in use; the
    // next save of the source or the next open trims them). Writing the trim
    // alone instead is not sound for every error: after LOCK_LOST another
    // process may already have saved the same sources (these marks would be
    // stale and could unmark what its files use), and after an I/O error the
    // same write would most likely fail again.
    if (failure && carried) this.settleCarried(carried, failure);
    // LOCK_LOST comes from the fence before a rename: with no write finished
    // and no content file started, nothing of this batch left memory.
    if (failure?.code === 'LOCK_LOST' && writes === 0 && !contentStarted && !retried) {
      // The lease was taken over before this batch renamed anything: nothing
      // of it is anywhere but in memory, so run it again under a fresh lock
      // (and with it a freshness check) instead of failing its callers.
      this.opts.logger.warn({ project: this.projectId, ops: batch.length }, 'media.json lock was taken over between commits; running the batch again under a fresh lock');
      for (const q of batch) delete q.outcome;
      return this.commitBatch(batch, null, true);
    }
    if (failure) {
      this.opts.counters.failedCommits++;
      this.opts.logger.error({ project: this.projectId, ops: batch.length, code: failure.code, err: failure }, 'commit failed');
      for (const q of batch) q.reject(failure);
      return null;
    }
    // Answered by the batch that carries its trim.
    if (carry) return carry;
    // A batch that only replaced content files is a commit too (it took the
    // lock and wrote durably), even when no mark changed.
    if (writes > 0 || content.size > 0) {
      this.opts.counters.commitDone(batch.length, ms);
      this.opts.logger.info({ project: this.projectId, ops: batch.length, writes, bytes, ms: Math.round(ms * 100) / 100, retries }, 'commit');
    }
    this.answer(batch);
    return null;
  }

  private answer(batch: Queued[]): void {
    for (const q of batch) {
      const outcome = q.outcome;
      if (outcome?.ok) {
        this.opts.counters.operations++;
        q.resolve(outcome.value);
      } else q.reject(outcome?.error ?? new StorageError('INTERNAL', 'operation was not applied'));
    }
  }

  /**
   * Whether a batch's trim may ride in the next batch's first write instead
   * of a write of its own: only when that batch exists already (a write
   * operation is queued — a lone caller is answered after its own trim, as
   * soon as before) and the lock stays held from the content renames to the
   * trim (the lease goes on into the carrier). A lease past its time goes on
   * only while no other process has asked for the lock: a page-save commit
   * is longer than a lease, so carrying must not depend on time alone, and a
   * waiter that asks later waits for the carrier — one commit, the same as
   * for any commit a lease ends with — before the holder steps aside.
   */
  private async canCarryTrim(): Promise<boolean> {
    if (this.lease === null || !this.queue.some((q) => q.op !== FLUSH)) return false;
    if (performance.now() - this.lease.since < LEASE_MS) return true;
    try {
      await this.opts.fs.stat(waiterHintPath(this.lockPath));
      return false; // someone is waiting: trim alone, then give them their turn
    } catch (err) {
      return errnoCode(err) === 'ENOENT';
    }
  }

  /** Answers a carried batch: its trim is durable (`error` null), or its carrier failed before that. */
  private settleCarried(carried: CarriedTrim, error: StorageError | null): void {
    if (error) {
      this.opts.counters.failedCommits++;
      this.opts.logger.error({ project: this.projectId, ops: carried.batch.length, code: error.code, err: error }, 'commit failed (its exact marks were carried by a commit that failed)');
      for (const q of carried.batch) q.reject(error);
      return;
    }
    const ms = performance.now() - carried.started;
    this.opts.counters.commitDone(carried.batch.length, ms);
    this.opts.logger.info({ project: this.projectId, ops: carried.batch.length, carried: true, ms: Math.round(ms * 100) / 100 }, 'commit');
    this.answer(carried.batch);
  }

  /**
   * Runs under the lock between the two commits: write or remove the batch's
   * content files. Returns the sources whose file could not be changed (their
   * operations fail; other sources go on). A lost lock fails the whole batch.
   */
  private async applyContentActions(content: ContentActions, batch: Queued[]): Promise<Set<string>> {
    const changes: ContentChange[] = [];
    for (const [source, action] of content.bySource) {
      const path = this.contentPath(source);
      if (action.kind === 'write') {
        const dir = dirname(path);
        if (!this.ensuredDirs.has(dir)) {
          await this.opts.fs.mkdir(dir);
          // A folder mkdir may just have created is durable only once the
          // folder holding it is fsynced (an fsync of the folder itself does
          // not make its own name durable): every level up to the project.
          for (let d = dir; d.startsWith(this.dir) && d !== this.dir; d = dirname(d)) await fsyncDirectory(this.opts.fs, dirname(d));
          this.ensuredDirs.add(dir);
        }
        changes.push({ path, text: action.text });
      } else changes.push({ path, remove: true });
    }
    const failed = await applyContentChanges(this.opts.fs, changes, {
      onRetry: (code) => this.opts.counters.retry(code),
      beforePublish: this.fence,
    });
    for (const error of failed.values()) if (error.code === 'LOCK_LOST') throw error;
    const failedSources = new Set<string>();
    for (const source of content.bySource.keys()) if (failed.has(this.contentPath(source))) failedSources.add(source);
    for (const q of batch) {
      const source = q.op.contentSource;
      const error = source === undefined ? undefined : failed.get(this.contentPath(source));
      if (error && q.outcome?.ok) q.outcome = { ok: false, error };
    }
    return failedSources;
  }

  // --- content files -------------------------------------------------------

  contentPath(source: string): string {
    return join(this.dir, contentFileOf(source));
  }

  /** The parsed content of a source, or undefined when it has none. */
  async readContentOrNull(source: string): Promise<unknown> {
    let bytes: Buffer;
    try {
      // Content files are only ever replaced by rename: one read sees one whole version.
      bytes = await withRetry(() => this.opts.fs.readFile(this.contentPath(source)), {
        isTransient: (err) => errnoCode(err) !== 'ENOENT' && isTransientError(err),
        onRetry: (code) => this.opts.counters.retry(code),
      });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // never saved, or deleted
      throw StorageError.from(err, 'STORAGE_IO');
    }
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      this.opts.logger.warn({ project: this.projectId, source }, 'content file is not valid JSON; counted as using nothing');
      return undefined;
    }
  }

  /** Every content source with a file on disk (pages, global widgets, theme). */
  async contentSources(): Promise<string[]> {
    const sources: string[] = [];
    for (const [sub, toSource] of [
      [PAGES_DIR, sourceOfPageFile],
      [GLOBALS_DIR, sourceOfGlobalFile],
    ] as const) {
      try {
        for (const entry of await this.opts.fs.readdir(join(this.dir, sub))) {
          const source = entry.isFile() ? toSource(entry.name) : null;
          if (source) sources.push(source);
        }
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err; // no such folder: no such sources
      }
    }
    try {
      await this.opts.fs.stat(join(this.dir, THEME_FILE));
      sources.push(THEME_SOURCE);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    return sources;
  }

  /**
   * Reads every content file and scans it for media paths. Runs outside the
   * lock and outside the commit queue; `refreshUsage` applies the result
   * under the lock only if the generation is still the one read first.
   */
  async scanContent(): Promise<ContentScan> {
    const generation = await this.file.generation.read();
    const sources = await this.contentSources();
    const contents = await Promise.all(sources.map((source) => this.readContentOrNull(source)));
    const paths = new Map<string, string[]>();
    sources.forEach((source, i) => {
      const saved = contents[i];
      paths.set(source, saved === undefined ? [] : extractMediaPaths(saved));
    });
    return { generation, paths };
  }

  /** Under the lock: whether nothing was committed (by anyone) since `scan` read its generation. */
  isCurrent(scan: ContentScan): boolean {
    if (this.contentUnpublished) return false;
    const signature = this.file.last?.signature;
    return signature !== undefined && signature !== null ? signature.endsWith(`#${scan.generation}`) : false;
  }

  // --- loading, freshness and recovery --------------------------------------

  private committed(): CommittedState {
    if (this.corrupt) throw this.corrupt.error;
    if (!this.state) throw new StorageError('INTERNAL', `project ${this.projectId} is not loaded`);
    return this.state;
  }

  /** Reload when media.json on disk is not the version in memory. */
  private async ensureFresh(locked: boolean): Promise<void> {
    const signature = await this.file.versionNow();
    if (this.corrupt) {
      if (signature === this.corrupt.signature) throw this.corrupt.error;
      await this.load(locked); // someone replaced the corrupt file: look again
      return;
    }
    if (this.state && signature === (this.file.last?.signature ?? null)) return;
    this.opts.counters.externalReloads++;
    await this.load(locked);
  }

  /** Load media.json into memory; on corruption quarantine and restore. Returns what recovery did, if anything. */
  private async load(locked: boolean): Promise<string | null> {
    try {
      const doc = await this.db.read().then(() => this.db.data);
      if (this.file.last?.signature === null) {
        const restored = await this.recover(locked, null);
        if (restored) return restored;
      }
      this.setState(doc);
      return null;
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'CORRUPT_DOCUMENT') throw err;
      return this.recover(locked, err);
    }
  }

  private setState(doc: MediaDocument): void {
    this.corrupt = null;
    this.state = {
      doc,
      byId: new Map(doc.files.map((r): [string, MediaRecord] => [r.id, r])),
      index: new MediaPathIndex(doc),
      usageBySource: usageBySourceOf(doc),
    };
  }

  /**
   * media.json is corrupt (`problem`) or missing (`problem` null). Under the
   * lock: look again; quarantine a corrupt file (kept, renamed aside only
   * once a good version can take its place); restore `.bak` if it validates.
   * With no good version, a corrupt library is refused (CORRUPT_DOCUMENT) —
   * never silently emptied. A missing file with no backup and no quarantined
   * copy is simply a library that has no media yet.
   */
  private async recover(locked: boolean, problem: StorageError | null): Promise<string | null> {
    const handle = locked ? null : await this.lock.acquire();
    try {
      if (!locked) {
        // Another process may have repaired or written it while we waited.
        try {
          await this.db.read();
          if (this.file.last?.signature !== null) {
            this.setState(this.db.data);
            return null;
          }
        } catch (err) {
          if (!(err instanceof StorageError) || err.code !== 'CORRUPT_DOCUMENT') throw err;
          problem = err;
        }
      }
      let backup: { data: MediaDocument; text: string } | null = null;
      try {
        backup = await this.file.atomic.readBackup();
      } catch (err) {
        this.opts.logger.error({ project: this.projectId, err }, 'media.json.bak does not validate either');
      }
      if (problem === null) {
        if (backup) {
          await this.file.atomic.writeText(backup.text);
          this.opts.logger.error({ project: this.projectId, files: backup.data.files.length }, 'media.json was missing: restored from media.json.bak');
          await this.db.read();
          this.setState(this.db.data);
          await this.reconcileRestored();
          return 'restored-missing-from-backup';
        }
        const quarantined = await this.quarantinedCopies();
        if (quarantined.length > 0) {
          return this.refuse(new StorageError('CORRUPT_DOCUMENT', `media.json of project ${this.projectId} is missing, a quarantined copy exists (${quarantined[0]}) and there is no good backup: repair it before writing`, { quarantined }), null);
        }
        this.setState({ files: [] });
        return null;
      }
      const quarantinePath = quarantineFileOf(this.mediaPath, new Date(), process.pid);
      const quarantineName = basename(quarantinePath);
      const signature = await this.file.versionNow();
      if (backup) {
        // Renaming aside is safe now: the backup takes its place at once, and
        // a crash in between leaves "missing + good .bak", which restores.
        await this.opts.fs.rename(this.mediaPath, quarantinePath);
        await this.file.atomic.writeText(backup.text);
        this.opts.counters.quarantines++;
        this.opts.logger.error(
          { project: this.projectId, quarantined: quarantineName, problem: problem.message, restoredFiles: backup.data.files.length },
          'media.json was corrupt: quarantined it and restored the last good version from media.json.bak',
        );
        await this.db.read();
        this.setState(this.db.data);
        await this.reconcileRestored();
        return `quarantined ${quarantineName}, restored from backup`;
      }
      // No good version: keep the corrupt file in place (a hard link keeps a
      // quarantined copy even if someone deletes it) and refuse.
      await this.opts.fs.link(this.mediaPath, quarantinePath).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
      this.opts.counters.quarantines++;
      return this.refuse(
        new StorageError('CORRUPT_DOCUMENT', `media.json of project ${this.projectId} is corrupt and no good backup exists; a copy is kept as ${quarantineName}; repair the file to continue`, {
          project: this.projectId,
          quarantined: quarantineName,
          problem: problem.message,
        }),
        signature,
      );
    } finally {
      await handle?.release();
    }
  }

  /**
   * Under the lock, right after `.bak` became media.json: the backup is one
   * version old, so its marks can miss what the newest content files use
   * (a file in use would then read as unused and could be deleted). The
   * content files are the truth: every source that has one gets exactly the
   * marks it names, written before anything else is read or acknowledged.
   */
  private async reconcileRestored(): Promise<void> {
    const scan = await this.scanContent();
    const state = this.committed();
    const draft = new DocumentDraft(state);
    for (const [source, paths] of scan.paths) draft.setSourceUsage(source, draft.matchPaths(paths));
    if (draft.dirty) {
      const doc = draft.build();
      this.db.data = doc;
      await this.db.write();
      draft.applyTo(state, doc);
    }
    await this.file.publish();
    this.opts.logger.warn({ project: this.projectId, sources: scan.paths.size, changed: draft.dirty }, 'usage reconciled with the content files after restoring media.json.bak');
  }

  private refuse(error: StorageError, signature: string | null): string {
    this.corrupt = { error, signature };
    this.state = null;
    this.opts.logger.error({ project: this.projectId, err: error }, 'media library refused: corrupt and no good version to restore');
    return 'refused-corrupt';
  }

  private async quarantinedCopies(): Promise<string[]> {
    try {
      return (await this.opts.fs.readdir(this.uploadsDir))
        .map((e) => e.name)
        .filter((n) => isQuarantineName(n, basename(this.mediaPath)));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }
}

/** An operation that changes nothing: queued by a read that must reload what another process committed. */
const FLUSH: Operation<void> = { kind: 'flush', apply: () => undefined };
