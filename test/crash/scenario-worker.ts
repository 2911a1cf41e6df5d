/**
 * Runs one scenario's recorded window in a worker thread and posts back the
 * trace: the image before the window, the op log, and each operation's
 * acknowledgment index. A thread of its own because a crash must leave
 * leftovers of a *dead* writer: once this thread has ended, the explorer
 * opens each crash state with `deadThreadIds` naming it, so its lock and
 * temp files count as a dead writer's, exactly as after a storage worker died.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { RecordingFs } from '../helpers/recording-fs.js';
import { snapshot } from './disk-image.js';
import { PROJECT_ID, ProjectDriver, SCENARIOS } from './scenarios.js';
import type { Trace } from './trace.js';

const { scenario: name } = workerData as { scenario: string };
const scenario = SCENARIOS.find((s) => s.name === name);
if (!scenario) throw new Error(`no scenario named ${name}`);

const dataDir = await mkdtemp(join(tmpdir(), 'mediastore-crash-rec-'));
const projectDir = join(dataDir, 'projects', PROJECT_ID);
await scenario.setup(projectDir);
const before = await snapshot(projectDir);
const recorder = new RecordingFs(projectDir, before.names);
const acks: Trace['acks'] = [];
const driver = await ProjectDriver.open(projectDir, recorder);
await scenario.run(driver, (label, pending) =>
  pending.then((value) => {
    acks.push({ label, at: recorder.log.length });
    return value;
  }),
);
await driver.close();
const trace: Trace = {
  scenario: name,
  dataDir,
  threadId,
  initial: { dirs: before.dirs, files: before.files, data: before.data },
  log: recorder.log,
  acks,
};
parentPort!.postMessage(trace);
