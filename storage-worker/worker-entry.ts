/**
 * The storage worker thread's entry, hosted by piscina. One piscina task is
 * one *session*: the client hands over a MessagePort and the options, this
 * thread exposes a StorageService on that port through comlink, and the task
 * stays pending until the client asks it to stop (after a drain). If the
 * thread dies, piscina rejects the task — that is how the client learns it
 * must fail the calls in flight and start a new session.
 *
 * This file only wires; the logic lives in StorageService and below.
 */
import { Comlink, installErrorTransfer, portEndpoint } from '../shared/thread-channel.js';
import type { DrainResult } from '../shared/storage-api.js';
import type { SessionTask, WorkerApi } from '../shared/session-protocol.js';
import { chooseBackend } from './backend-choice.js';
import { StorageService } from './storage-service.js';
import { portLogger } from './worker-logger.js';

export default async function runSession(task: SessionTask): Promise<DrainResult> {
  installErrorTransfer({ claimEverything: true });
  const service = new StorageService(task.options, chooseBackend(task.options, task.logPort && portLogger(task.logPort, task.options.logLevel)));
  let finish!: (result: DrainResult) => void;
  const finished = new Promise<DrainResult>((resolve) => (finish = resolve));
  // Typed as the shared contract, so the worker cannot drift from what the client calls.
  const api: WorkerApi = Object.assign(Object.create(service) as StorageService, {
    async stopSession(): Promise<DrainResult> {
      const result = await service.drain();
      // Answer first, then end the task, so the client's call settles before the port closes.
      setImmediate(() => finish(result));
      return result;
    },
  });
  Comlink.expose(api, portEndpoint(task.port));
  const result = await finished;
  task.port.close();
  task.logPort?.close();
  return result;
}
