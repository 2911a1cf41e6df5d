/** The storage worker's counters and histograms, read out by `stats()`. */
import type { StorageStats } from '../shared/storage-api.js';
import { Histogram } from './histogram.js';

/** A lock wait shorter than this is an uncontended acquisition, not a "wait". */
const LOCK_WAIT_THRESHOLD_MS = 1;

export class WorkerCounters {
  commits = 0;
  operations = 0;
  failedCommits = 0;
  lockWaits = 0;
  staleLockTakeovers = 0;
  externalReloads = 0;
  quarantines = 0;
  queueDepth = 0;
  private readonly retries: Record<string, number> = {};
  /** total ms spent in each phase of all commits (where a commit's time goes) */
  private readonly phases: Record<string, number> = {};
  private readonly commitMs = new Histogram([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]);
  private readonly batch = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  private readonly lockWaitMs = new Histogram([0.5, 1, 5, 10, 25, 50, 100, 250, 1000, 5000]);

  retry(code: string): void {
    this.retries[code] = (this.retries[code] ?? 0) + 1;
  }

  phase(name: string, ms: number): void {
    this.phases[name] = (this.phases[name] ?? 0) + ms;
  }

  lockAcquired(waitedMs: number): void {
    this.lockWaitMs.observe(waitedMs);
    if (waitedMs >= LOCK_WAIT_THRESHOLD_MS) this.lockWaits++;
  }

  commitDone(batchSize: number, ms: number): void {
    this.commits++;
    this.batch.observe(batchSize);
    this.commitMs.observe(ms);
  }

  snapshot(openProjects: number): StorageStats {
    return {
      commits: this.commits,
      operations: this.operations,
      failedCommits: this.failedCommits,
      retries: { ...this.retries },
      lockWaits: this.lockWaits,
      staleLockTakeovers: this.staleLockTakeovers,
      externalReloads: this.externalReloads,
      quarantines: this.quarantines,
      queueDepth: this.queueDepth,
      openProjects,
      commitDurationMs: this.commitMs.snapshot(),
      batchSize: this.batch.snapshot(),
      lockWaitMs: this.lockWaitMs.snapshot(),
      commitPhaseMs: { ...this.phases },
      workerRestarts: 0,
    };
  }
}
