/**
 * One project's media library inside the storage worker: the commit of one
 * batch, and the wiring of the mechanisms it runs on — the group-commit
 * queue (commit-queue.ts), the lock lease (lock-lease.ts), the document in
 * memory with its freshness and recovery (document-recovery.ts) and the
 * content files (content-store.ts).
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
import { dirname, join } from 'node:path';
import { Low } from 'lowdb';
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import type { MediaDocument } from '../shared/media-types.js';
import { CONTENT_DIRS, mediaFileOf } from '../shared/project-paths.js';
import { answer, CommitQueue, type Queued } from './commit-queue.js';
import { ContentActions } from './content-actions.js';
import { ContentStore, type ContentScan } from './content-store.js';
import { DocumentDraft, type CommittedState } from './document-draft.js';
import { DocumentRecovery } from './document-recovery.js';
import type { FsSeam } from './fs-seam.js';
import { sweepLeftovers } from './leftover-sweep.js';
import { LockLease } from './lock-lease.js';
import { MediaDocumentFile } from './media-document-file.js';
import { FLUSH, type Operation } from './operation.js';
import type { WorkerCounters } from './worker-counters.js';

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

const EMPTY_DOCUMENT_JSON = new TextEncoder().encode('{\n  "files": []\n}');

export class ProjectStore {
  readonly mediaPath: string;
  private readonly uploadsDir: string;
  private readonly file: MediaDocumentFile;
  private readonly db: Low<MediaDocument>;
  private readonly lease: LockLease;
  private readonly document: DocumentRecovery;
  private readonly contentFiles: ContentStore;
  private readonly queue: CommitQueue<CarriedTrim>;

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
    this.lease = new LockLease(this.mediaPath, {
      fs: opts.fs,
      logger: opts.logger,
      counters: opts.counters,
      project: projectId,
      timeoutMs: opts.lockTimeoutMs,
      staleMs: opts.staleLockMs,
      isThreadAlive: opts.isThreadAlive,
      onTakeover: async () => {
        // The dead holder may have renamed files without replacing the
        // generation nonce (it died before acknowledging): replace it now so
        // every process, this one included, reloads what it left.
        await this.file.generation.bump();
        this.opts.onLockTakeover?.(this);
      },
    });
    this.contentFiles = new ContentStore(projectId, dir, { fs: opts.fs, logger: opts.logger, counters: opts.counters, file: this.file });
    this.document = new DocumentRecovery(projectId, this.mediaPath, {
      fs: opts.fs,
      logger: opts.logger,
      counters: opts.counters,
      file: this.file,
      db: this.db,
      acquireLock: () => this.lease.acquireOnce(),
      scanContent: () => this.contentFiles.scanContent(),
    });
    this.queue = new CommitQueue<CarriedTrim>(projectId, opts.counters, {
      commit: (batch, carried) => this.commitBatch(batch, carried),
      idle: () => this.lease.end(),
      holdsLock: () => this.lease.held,
      abandon: (carried, error) => this.settleCarried(carried, error),
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
    const recovered = await this.document.load(false);
    return {
      files: this.document.state?.doc.files.length ?? 0,
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
    if (this.queue.inFlight) {
      // The commit in flight checked freshness under the lock, after every
      // other process's acknowledged commit (they needed that lock too).
      await this.queue.inFlight;
    } else {
      const signature = await this.file.versionNow();
      const known = this.document.knownSignature();
      if (this.queue.inFlight) await this.queue.inFlight;
      // State changes only inside the commit pipeline, so a reload is queued
      // like a commit (it writes nothing).
      else if (!this.document.state || signature !== known) await this.enqueue(FLUSH);
    }
    const state = this.document.committed();
    return { state, json: this.file.last?.json ?? EMPTY_DOCUMENT_JSON };
  }

  // --- content files (content-store.ts) --------------------------------------

  contentPath(source: string): string {
    return this.contentFiles.contentPath(source);
  }

  /** The parsed content of a source, or undefined when it has none. */
  readContentOrNull(source: string): Promise<unknown> {
    return this.contentFiles.readContentOrNull(source);
  }

  /** Every content source with a file on disk (pages, global widgets, theme). */
  contentSources(): Promise<string[]> {
    return this.contentFiles.contentSources();
  }

  /** Reads and scans every content file, outside the lock and the queue (see ContentScan). */
  scanContent(): Promise<ContentScan> {
    return this.contentFiles.scanContent();
  }

  // --- writes --------------------------------------------------------------

  enqueue<R>(op: Operation<R>): Promise<R> {
    return this.queue.enqueue(op);
  }

  /** Commit what is queued, then refuse new operations. */
  close(): Promise<number> {
    return this.queue.close();
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
        if (!this.lease.held) await this.document.ensureFresh(false);
        for (const q of batch) q.resolve(undefined);
      } catch (err) {
        for (const q of batch) q.reject(StorageError.from(err));
      }
      return null;
    }
    let leased: boolean;
    try {
      leased = await this.lease.take();
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
    this.file.fence = this.lease.fence;
    try {
      // A lease carried over from the previous commit (lease.take reused it;
      // the fence checks it is still ours) means the lock was held
      // throughout: nothing can have changed.
      if (!leased) await this.document.ensureFresh(true);
      phase('fresh');
      const state = this.document.committed();
      const draft = new DocumentDraft(state);
      // The carried trim first: this batch's operations apply on top of the
      // exact marks (a delete sees a file the previous save just dropped as
      // unused; a save of the same source unions with its exact marks).
      if (carried) for (const [source, fileIds] of carried.exact) draft.setSourceUsage(source, fileIds);
      for (const q of batch) {
        try {
          q.outcome = { ok: true, value: await q.op.apply(draft, content, this.contentFiles) };
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
        this.contentFiles.markPublished();
        ambiguous = false;
        this.settleCarried(carried, null);
        carried = null;
      }
      if (content.size > 0) {
        published = true;
        contentStarted = true;
        const failed = await this.contentFiles.apply(content, this.lease.fence);
        // A source whose file could not be changed fails its operations; other sources go on.
        for (const q of batch) {
          const source = q.op.contentSource;
          const error = source === undefined ? undefined : failed.get(source);
          if (error && q.outcome?.ok) q.outcome = { ok: false, error };
        }
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
            this.contentFiles.markUnpublished();
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
        this.contentFiles.markPublished();
      }
    } catch (err) {
      failure = StorageError.from(err, 'STORAGE_IO');
      const lockLost = failure.code === 'LOCK_LOST';
      // The draft is dropped; memory stays at the last write that succeeded.
      // If a failure came after a rename (directory fsync), disk moved on:
      // reload it — under the lock, unless the lock is no longer ours.
      this.db.data = this.document.state?.doc ?? { files: [] };
      if (!lockLost && published) {
        await this.file
          .publish()
          .then(() => this.contentFiles.markPublished())
          .catch(() => undefined);
      }
      await this.document.ensureFresh(!lockLost).catch(() => undefined);
    } finally {
      this.file.fence = undefined;
      const expired = this.lease.pastTime();
      // A carried trim needs the lease until its carrier's write: the carrier
      // runs next, at once, and ends the lease after itself if it expired.
      if (failure || (expired && !carry)) {
        await this.lease.endAfterCommit(expired && !failure);
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
    answer(batch, this.opts.counters);
    return null;
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
    if (!this.queue.hasWriteWaiting()) return false;
    // Someone waiting past the lease's time: trim alone, then give them their turn.
    return this.lease.mayHoldOn();
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
    answer(carried.batch, this.opts.counters);
  }
}
