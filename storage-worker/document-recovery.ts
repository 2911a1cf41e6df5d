/**
 * One project's media.json in memory, and how it gets there (invariants 5, 7
 * and 9 of docs/architecture.md): loading it, reloading it when another
 * process committed (freshness), and — when it is corrupt or missing —
 * quarantining it, restoring `.bak`, or refusing the library. Never an
 * empty library in place of a corrupt one.
 */
import { basename, dirname } from 'node:path';
import type { Low } from 'lowdb';
import type pino from 'pino';
import { StorageError } from '../shared/errors.js';
import type { MediaDocument, MediaRecord } from '../shared/media-types.js';
import { isQuarantineName, quarantineFileOf } from '../shared/project-paths.js';
import type { ContentScan } from './content-store.js';
import { DocumentDraft, usageBySourceOf, type CommittedState } from './document-draft.js';
import { errnoCode, type FsSeam } from './fs-seam.js';
import type { MediaDocumentFile } from './media-document-file.js';
import type { LockHandle } from './project-lock.js';
import { MediaPathIndex } from './usage-extraction.js';
import type { WorkerCounters } from './worker-counters.js';

export interface DocumentRecoveryOptions {
  fs: FsSeam;
  logger: pino.Logger;
  counters: WorkerCounters;
  file: MediaDocumentFile;
  db: Low<MediaDocument>;
  /** the lock for a recovery that runs outside a commit */
  acquireLock: () => Promise<LockHandle>;
  /** the content files' usage, the truth a restored `.bak` is reconciled with */
  scanContent: () => Promise<ContentScan>;
}

export class DocumentRecovery {
  private readonly uploadsDir: string;
  private current: CommittedState | null = null;
  /** set while media.json is corrupt with no good version to restore: every access refuses */
  private corrupt: { error: StorageError; signature: string | null } | null = null;

  constructor(
    private readonly projectId: string,
    private readonly mediaPath: string,
    private readonly opts: DocumentRecoveryOptions,
  ) {
    this.uploadsDir = dirname(mediaPath);
  }

  /** The committed state, or null before the first load and while refused. */
  get state(): CommittedState | null {
    return this.current;
  }

  /** The signature of the version in memory (of the corrupt file while refused). */
  knownSignature(): string | null {
    return this.corrupt ? this.corrupt.signature : (this.opts.file.last?.signature ?? null);
  }

  committed(): CommittedState {
    if (this.corrupt) throw this.corrupt.error;
    if (!this.current) throw new StorageError('INTERNAL', `project ${this.projectId} is not loaded`);
    return this.current;
  }

  /** Reload when media.json on disk is not the version in memory. */
  async ensureFresh(locked: boolean): Promise<void> {
    const signature = await this.opts.file.versionNow();
    if (this.corrupt) {
      if (signature === this.corrupt.signature) throw this.corrupt.error;
      await this.load(locked); // someone replaced the corrupt file: look again
      return;
    }
    if (this.current && signature === (this.opts.file.last?.signature ?? null)) return;
    this.opts.counters.externalReloads++;
    await this.load(locked);
  }

  /** Load media.json into memory; on corruption quarantine and restore. Returns what recovery did, if anything. */
  async load(locked: boolean): Promise<string | null> {
    const { db, file } = this.opts;
    try {
      const doc = await db.read().then(() => db.data);
      if (file.last?.signature === null) {
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
    this.current = {
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
    const { db, file, fs, counters, logger } = this.opts;
    const handle = locked ? null : await this.opts.acquireLock();
    try {
      if (!locked) {
        // Another process may have repaired or written it while we waited.
        try {
          await db.read();
          if (file.last?.signature !== null) {
            this.setState(db.data);
            return null;
          }
        } catch (err) {
          if (!(err instanceof StorageError) || err.code !== 'CORRUPT_DOCUMENT') throw err;
          problem = err;
        }
      }
      let backup: { data: MediaDocument; text: string } | null = null;
      try {
        backup = await file.atomic.readBackup();
      } catch (err) {
        logger.error({ project: this.projectId, err }, 'media.json.bak does not validate either');
      }
      if (problem === null) {
        if (backup) {
          await file.atomic.writeText(backup.text);
          logger.error({ project: this.projectId, files: backup.data.files.length }, 'media.json was missing: restored from media.json.bak');
          await db.read();
          this.setState(db.data);
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
      const signature = await file.versionNow();
      if (backup) {
        // Renaming aside is safe now: the backup takes its place at once, and
        // a crash in between leaves "missing + good .bak", which restores.
        await fs.rename(this.mediaPath, quarantinePath);
        await file.atomic.writeText(backup.text);
        counters.quarantines++;
        logger.error(
          { project: this.projectId, quarantined: quarantineName, problem: problem.message, restoredFiles: backup.data.files.length },
          'media.json was corrupt: quarantined it and restored the last good version from media.json.bak',
        );
        await db.read();
        this.setState(db.data);
        await this.reconcileRestored();
        return `quarantined ${quarantineName}, restored from backup`;
      }
      // No good version: keep the corrupt file in place (a hard link keeps a
      // quarantined copy even if someone deletes it) and refuse.
      await fs.link(this.mediaPath, quarantinePath).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
      counters.quarantines++;
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
    const scan = await this.opts.scanContent();
    const state = this.committed();
    const draft = new DocumentDraft(state);
    for (const [source, paths] of scan.paths) draft.setSourceUsage(source, draft.matchPaths(paths));
    if (draft.dirty) {
      const doc = draft.build();
      this.opts.db.data = doc;
      await this.opts.db.write();
      draft.applyTo(state, doc);
    }
    await this.opts.file.publish();
    this.opts.logger.warn({ project: this.projectId, sources: scan.paths.size, changed: draft.dirty }, 'usage reconciled with the content files after restoring media.json.bak');
  }

  private refuse(error: StorageError, signature: string | null): string {
    this.corrupt = { error, signature };
    this.current = null;
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
