/** What recording one scenario yields, and how the explorer gets it: from a worker thread that then ends. */
import { Worker } from 'node:worker_threads';
import type { RecordedOp } from '../helpers/recording-fs.js';
import type { DiskImage } from './disk-image.js';

export interface Trace {
  scenario: string;
  /** where it was recorded (remove when done) */
  dataDir: string;
  /** the recording thread, dead once the trace is in hand */
  threadId: number;
  initial: DiskImage;
  log: RecordedOp[];
  /** each operation's acknowledgment: the log length when its promise resolved */
  acks: Array<{ label: string; at: number }>;
}

export function recordTrace(scenario: string): Promise<Trace> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./scenario-worker.js', import.meta.url), { workerData: { scenario } });
    let trace: Trace | null = null;
    worker.once('message', (t: Trace) => {
      trace = t;
    });
    worker.once('error', reject);
    // Resolve only once the thread is gone: its leftovers must be a dead writer's.
    worker.once('exit', (code) => (trace ? resolve(trace) : reject(new Error(`scenario worker exited with ${code} and no trace`))));
  });
}
