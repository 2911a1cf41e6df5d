/** The storage worker's one logger: every backend and store of a session writes through it. */
import { threadId } from 'node:worker_threads';
import pino from 'pino';

export function workerLogger(level: string | undefined): pino.Logger {
  // Synchronous writes to fd 1: log lines of a worker that is about to die still land.
  return pino(
    { level: level ?? 'info', base: { pid: process.pid, thread: threadId, component: 'storage-worker' } },
    pino.destination({ fd: 1, sync: true }),
  );
}
