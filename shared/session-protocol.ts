/**
 * The contract between the storage client (main thread) and the storage
 * worker thread: what one piscina task (a *session*) carries, and what the
 * worker exposes on the session's port through comlink.
 */
import type { MessagePort } from 'node:worker_threads';
import type { DrainResult, FaultControl, StorageApi, StorageOptions } from './storage-api.js';

export interface SessionOptions extends StorageOptions {
  /** threads of this process known dead (earlier storage workers): their locks are dead too */
  deadThreadIds?: number[];
}

export interface SessionTask {
  port: MessagePort;
  options: SessionOptions;
  /**
   * Where the worker's log lines go (one pino JSON line per message), for the
   * client to hand to the host's logger. Absent: the worker writes them to fd 1.
   */
  logPort?: MessagePort;
}

/** What the client calls: the storage API, the test-only fault control, and the session's own stop. */
export type WorkerApi = StorageApi & FaultControl & { stopSession(): Promise<DrainResult> };
