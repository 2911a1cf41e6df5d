/** The storage worker's one logger: every backend and store of a session writes through it. */
import { threadId, type MessagePort } from 'node:worker_threads';
import pino from 'pino';

export function workerLogger(level: string | undefined): pino.Logger {
  // Synchronous writes to fd 1: log lines of a worker that is about to die still land.
  return pino(
    { level: level ?? 'info', base: { pid: process.pid, thread: threadId, component: 'storage-worker' } },
    pino.destination({ fd: 1, sync: true }),
  );
}

/**
 * The logger when the client gave a log port (a host embeds mediastore): pino
 * lines go to the main thread, which hands them to the host's logger, instead
 * of to fd 1 behind the host's back. postMessage queues a line on the
 * receiving port at once, so the last words of a thread about to die still
 * arrive, as they did with the synchronous fd-1 destination.
 */
export function portLogger(port: MessagePort, level = 'info'): pino.Logger {
  const destination = { write: (line: string): void => port.postMessage(line) };
  return pino({ level, base: { pid: process.pid, thread: threadId, component: 'storage-worker' } }, destination);
}
