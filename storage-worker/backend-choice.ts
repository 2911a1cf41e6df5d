/**
 * Which LibraryBackend a session runs, chosen from its options: JSON files
 * unless told otherwise. Also makes what the service reads beside the seam:
 * the counters `stats()` reports (the backend feeds them) and, for tests,
 * the fault seam under the backend's file operations.
 */
import type pino from 'pino';
import type { SessionOptions } from '../shared/session-protocol.js';
import { CoarseTimestampFs } from './coarse-timestamp-fs.js';
import { FaultyFs } from './fault-injection.js';
import { FileBackend } from './file-backend.js';
import { PostgresBackend } from './postgres/postgres-backend.js';
import { realFs } from './fs-seam.js';
import type { LibraryBackend } from './library-backend.js';
import { WorkerCounters } from './worker-counters.js';
import { workerLogger } from './worker-logger.js';

export interface ChosenBackend {
  backend: LibraryBackend;
  counters: WorkerCounters;
  /** projects whose library is open now (stats, ping) */
  openProjects(): number;
  /** present when `enableFaultInjection` is set and the backend works on files */
  faults: FaultyFs | null;
}

/** `logger`: where the worker's lines go (the host's, through the session's log port); default fd 1. */
export function chooseBackend(options: SessionOptions, logger: pino.Logger = workerLogger(options.logLevel)): ChosenBackend {
  const counters = new WorkerCounters();
  if (options.databaseUrl) return postgresBackend(options.databaseUrl, options, logger, counters);
  return fileBackend(options, logger, counters);
}

function postgresBackend(databaseUrl: string, options: SessionOptions, logger: pino.Logger, counters: WorkerCounters): ChosenBackend {
  const backend = PostgresBackend.create({
    databaseUrl,
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    onIdleError: (err) => logger.warn({ err }, 'an idle PostgreSQL connection failed; the pool opens a new one'),
  });
  return { backend, counters, openProjects: () => backend.openProjects, faults: null };
}

function fileBackend(options: SessionOptions, logger: pino.Logger, counters: WorkerCounters): ChosenBackend {
  // Every file operation goes through the seam; tests wrap it (whole-second timestamps, injected faults).
  const base = options.simulateCoarseTimestamps ? new CoarseTimestampFs(realFs) : realFs;
  const faults = options.enableFaultInjection ? new FaultyFs(base) : null;
  const files = new FileBackend({ ...options, fs: faults ?? base, logger, counters });
  return { backend: files, counters, openProjects: () => files.openProjects, faults };
}
