/**
 * A `ProjectStore` in the test's own thread on a real temp directory, with a
 * `ObservedFs` as its file seam and its own counters: for invariants of the
 * commit pipeline that only the seam's record or the counters can show.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { PROJECT_FILE, PROJECT_SUBDIRS, projectDirOf } from '../../shared/project-paths.js';
import { ProjectStore } from '../../storage-worker/project-store.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import * as ops from '../../storage-worker/media-operations.js';
import { ObservedFs } from './observed-fs.js';

export interface StoreUnderTest {
  store: ProjectStore;
  fs: ObservedFs;
  counters: WorkerCounters;
  projectDir: string;
  mediaPath: string;
}

/** Creates `<dataDir>/projects/<id>` with an initialised media.json and opens a store on it. */
export async function openStore(dataDir: string, projectId = 'p', fs = new ObservedFs()): Promise<StoreUnderTest> {
  const projectDir = projectDirOf(dataDir, projectId);
  for (const sub of PROJECT_SUBDIRS) await mkdir(join(projectDir, sub), { recursive: true });
  await writeFile(join(projectDir, PROJECT_FILE), JSON.stringify({ id: projectId, name: projectId, createdAt: new Date().toISOString() }));
  const counters = new WorkerCounters();
  const store = new ProjectStore(projectId, projectDir, {
    fs,
    logger: pino({ level: 'silent' }),
    counters,
    lockTimeoutMs: 10_000,
    staleLockMs: 10_000,
    isThreadAlive: () => true,
  });
  await store.open();
  await store.enqueue(ops.initialise());
  return { store, fs, counters, projectDir, mediaPath: store.mediaPath };
}
