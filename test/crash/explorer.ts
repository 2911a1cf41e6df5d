/**
 * Explores every crash state of one recorded trace: checks the invariants on
 * the bytes of the state, then opens the state with a fresh StorageService
 * (the real recovery: sweep, quarantine/restore, reconcile of marks) and
 * checks again: the library opens, it is a version at least as new as the
 * last acknowledgment (never emptied, nothing acknowledged lost), it is not
 * under-marked, and recovery left the content files alone.
 *
 * Opening a state costs a few milliseconds, so equal states are opened once:
 * states are keyed by their bytes (temp files by name only — recovery
 * removes them unread), and each state's checks run against its own crash
 * point and acknowledgments.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../../shared/errors.js';
import type { MediaDocument } from '../../shared/media-types.js';
import { StorageService } from '../../storage-worker/storage-service.js';
import { removeTempDir } from '../helpers/temp-dir.js';
import type { RecordedOp } from '../helpers/recording-fs.js';
import {
  BACKUP_PATH,
  checkBytes,
  checkMarks,
  History,
  MEDIA_PATH,
  recordsWithoutMarks,
  sourceOfContentPath,
  tryParse,
} from './crash-invariants.js';
import { crashStates, logicalImage, type CrashModelOptions } from './crash-model.js';
import { contentOf, hashBytes, imageKey, materialize, snapshot, type DiskImage } from './disk-image.js';
import { PROJECT_ID } from './scenarios.js';
import type { Trace } from './trace.js';

export interface Violation {
  /** the invariant broken, the same text for every state that breaks it the same way */
  problem: string;
  /** the first state found breaking it */
  example: string;
  states: number;
}

export interface Exploration {
  scenario: string;
  ops: number;
  /** crash states checked (crash points × persistence choices) */
  states: number;
  /** distinct disk images among them */
  distinctImages: number;
  /** distinct images opened with a fresh storage service */
  recoveries: number;
  violations: Violation[];
  ms: number;
}

interface Recovered {
  doc: MediaDocument | null;
  error: string | null;
  after: DiskImage;
}

const isTemp = (path: string) => path.includes('.tmp.');

export async function explore(trace: Trace, options: CrashModelOptions): Promise<Exploration> {
  const started = performance.now();
  const logical = Array.from({ length: trace.log.length + 1 }, (_, point) => logicalImage(trace.initial, trace.log, point));
  const history = new History(trace.initial, logical);
  const violations = new Map<string, Violation>();
  const report = (problem: string, example: () => string) => {
    const v = violations.get(problem);
    if (v) v.states++;
    else violations.set(problem, { problem, example: example(), states: 1 });
  };
  const images = new Set<string>();
  const recovered = new Map<string, Recovered>();
  let states = 0;
  for (const state of crashStates(trace.initial, trace.log, options)) {
    states++;
    const acked = trace.acks.filter((a) => a.at <= state.point);
    const from = Math.max(0, ...acked.map((a) => a.at));
    const where = () =>
      `crash after op ${state.point}/${trace.log.length} (${describeOp(trace.log[state.point - 1])}); ${state.choices}; acknowledged: ${acked.map((a) => a.label).join(', ') || 'nothing'}`;
    images.add(imageKey(state.image));
    for (const problem of checkBytes(state.image, history, from, state.point)) report(`on disk: ${problem}`, where);

    const key = imageKey(state.image, isTemp);
    let result = recovered.get(key);
    if (!result) {
      result = await recover(state.image, trace.threadId);
      recovered.set(key, result);
    }
    for (const problem of checkRecovered(state.image, result, history, from, state.point)) report(`after recovery: ${problem}`, where);
  }
  return {
    scenario: trace.scenario,
    ops: trace.log.length,
    states,
    distinctImages: images.size,
    recoveries: recovered.size,
    violations: [...violations.values()],
    ms: Math.round(performance.now() - started),
  };
}

function checkRecovered(image: DiskImage, result: Recovered, history: History, from: number, to: number): string[] {
  if (result.doc === null) return [`the library does not open: ${result.error}`];
  const problems: string[] = [];
  let allowed = history.documents(MEDIA_PATH, from, to);
  // Only the recovery scenario's own start has no media.json that parses: then the backup is the version to restore.
  if (allowed.length === 0) allowed = history.documents(BACKUP_PATH, from, to);
  const records = recordsWithoutMarks(result.doc);
  if (!allowed.some((doc) => recordsWithoutMarks(doc) === records)) {
    problems.push(
      `the library holds ${result.doc.files.length} record(s), none of the versions (${allowed.map((d) => d.files.length).join('/')} records) between the last acknowledgment and the crash`,
    );
  }
  if (tryParse(contentOf(result.after, MEDIA_PATH)) === null) problems.push('media.json on disk does not parse after recovery');
  problems.push(...checkMarks(result.after, history));
  for (const path of new Set([...image.files.keys(), ...result.after.files.keys()])) {
    if (sourceOfContentPath(path) === null) continue;
    if (hashBytes(contentOf(image, path)) !== hashBytes(contentOf(result.after, path))) problems.push(`recovery changed the content file ${path}`);
  }
  return problems;
}

/** Opens one crash state the way a restarted server would, and reads what it left on disk. */
async function recover(image: DiskImage, deadThread: number): Promise<Recovered> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mediastore-crash-state-'));
  try {
    const projectDir = join(dataDir, 'projects', PROJECT_ID);
    await mkdir(projectDir, { recursive: true });
    await materialize(image, projectDir);
    // The recording thread has ended: its lock and temp files are a dead writer's.
    // A lock whose stamp a crash left unreadable cannot be judged: it is freed
    // only after it stayed unchanged for the stale limit (watched on the
    // opener's own clock). A short limit stands for "the restart waited it out".
    const service = new StorageService({ dataDir, logLevel: 'silent', deadThreadIds: [deadThread], lockTimeoutMs: 3000, staleLockMs: 100 });
    let doc: MediaDocument | null = null;
    let error: string | null = null;
    try {
      doc = await service.listMedia(PROJECT_ID);
    } catch (err) {
      // Quarantine names carry a time: keep them out of the text, so equal failures count as one.
      error = (err instanceof StorageError ? `${err.code}: ${err.message}` : String(err)).replace(/corrupt-[\w-]+/g, 'corrupt-*');
    } finally {
      await service.drain();
    }
    return { doc, error, after: await snapshot(projectDir) };
  } finally {
    await removeTempDir(dataDir);
  }
}

function describeOp(op: RecordedOp | undefined): string {
  if (!op) return 'before any op';
  switch (op.kind) {
    case 'create':
    case 'unlink':
    case 'mkdir':
    case 'dirfsync':
    case 'utimes':
      return `${op.kind} ${op.path}`;
    case 'rename':
    case 'link':
      return `${op.kind} ${op.from} -> ${op.to}`;
    case 'write':
      return `write ${op.data.byteLength} bytes to inode ${op.ino}`;
    default:
      return `${op.kind} inode ${op.ino}`;
  }
}
