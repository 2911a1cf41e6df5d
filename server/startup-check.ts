/**
 * Start-up recovery, before the server accepts a request: every project is
 * opened once through the storage worker, which sweeps the temp and lock
 * files dead processes left in it and validates its media.json (quarantining
 * a corrupt one and restoring the last good version). The worker logs the
 * details per project; this gathers the totals for the one start-up line.
 *
 * A project that cannot be opened does not stop the server: its problem (a
 * corrupt library with no good backup, a lock held by a live process beyond
 * the lock timeout — with who holds it) is reported, and requests for that
 * project get the same error later. Opening never waits on a lock longer than
 * the storage lock timeout.
 */
import { StorageError } from '../shared/errors.js';
import type { StorageApi } from '../shared/storage-api.js';

export interface StartupProblem {
  project: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface StartupReport {
  projects: number;
  files: number;
  problems: StartupProblem[];
  ms: number;
}

export async function openAllProjects(
  storage: Pick<StorageApi, 'listProjects' | 'listMedia'>,
  stopRequested: () => boolean = () => false,
): Promise<StartupReport> {
  const started = Date.now();
  const report: StartupReport = { projects: 0, files: 0, problems: [], ms: 0 };
  const projects = await storage.listProjects();
  for (const project of projects) {
    if (stopRequested()) break;
    report.projects += 1;
    try {
      report.files += (await storage.listMedia(project.id)).files.length;
    } catch (err) {
      const e = StorageError.from(err);
      const problem: StartupProblem = { project: project.id, code: e.code, message: e.message };
      if (e.details) problem.details = e.details;
      report.problems.push(problem);
    }
  }
  report.ms = Date.now() - started;
  return report;
}
