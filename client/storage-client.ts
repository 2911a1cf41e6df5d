/**
 * The main-thread side of the storage worker: the typed StorageApi every
 * handler, script and test uses. It hosts exactly one worker thread in a
 * piscina pool and carries calls there with comlink.
 *
 * Why the pieces are arranged this way (docs/architecture.md):
 * - piscina keeps one long-lived thread (min = max = 1, no idle timeout) and
 *   replaces it when it dies; `atomics: 'disabled'` because the thread must
 *   keep running timers and port traffic between piscina tasks.
 * - One piscina task is one *session*; its rejection is the reliable signal
 *   that the thread died. comlink alone never settles calls to a dead port,
 *   so every call here races the session's death and a deadline, and fails
 *   with STORAGE_UNAVAILABLE instead of hanging.
 * - Nothing acknowledged is lost when the thread dies: the worker settles a
 *   write only after its commit is durable, so an unsettled call was never
 *   acknowledged.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { withDeadline } from '../shared/deadline.js';
import { StorageError } from '../shared/errors.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH, tooDeepError } from '../shared/json-depth.js';
import type {
  DeleteMediaResult,
  MediaDocument,
  MediaRecord,
  MetadataPatch,
  NewMediaRecord,
  ProjectInfo,
  RefreshUsageResult,
  SaveContentResult,
  UsageInfo,
  UsageSource,
} from '../shared/media-types.js';
import type {
  DrainResult,
  FaultControl,
  FaultSpec,
  StorageApi,
  StorageOptions,
  StorageStats,
  WorkerPing,
} from '../shared/storage-api.js';
import { Comlink, installErrorTransfer, portEndpoint } from '../shared/thread-channel.js';
import type { SessionTask, WorkerApi } from '../shared/session-protocol.js';
import { workerLevelOf, type HostLogger } from '../shared/host-logger.js';
import { forwardWorkerLogs } from './worker-log-forwarding.js';

const WORKER_ENTRY = new URL('../storage-worker/worker-entry.js', import.meta.url);

interface Session {
  remote: Comlink.Remote<WorkerApi>;
  port: MessagePort;
  /** rejects (with STORAGE_UNAVAILABLE) when the session ends for any reason */
  dead: Promise<never>;
  /** the task promise: settles when the worker's session ends */
  task: Promise<DrainResult>;
  threadId: number | null;
  alive: boolean;
}

export interface StorageClientEvents {
  /** a worker thread died and a new one was started */
  workerRestart: [info: { restarts: number; reason: string }];
}

export interface StorageClientOptions extends StorageOptions {
  /**
   * Receives the storage worker's log lines (forwarded from the worker
   * thread). Absent: the worker writes its own JSON lines to stdout. Its
   * `level`, when a string, is the worker's level unless `logLevel` is given.
   */
  logger?: HostLogger;
}

export class StorageClient extends EventEmitter<StorageClientEvents> implements StorageApi, FaultControl {
  private readonly pool: Piscina;
  private session!: Session;
  private starting: Promise<Session> | null = null;
  private readonly deadThreadIds: number[] = [];
  private restarts = 0;
  private closing = false;
  private readonly callTimeoutMs: number;
  private readonly options: StorageOptions;
  private readonly logger: HostLogger | undefined;

  private constructor({ logger, ...options }: StorageClientOptions) {
    super();
    // The logger stays on this thread: only plain options cross to the worker.
    this.logger = logger;
    const level = options.logLevel ?? workerLevelOf(logger);
    this.options = level === undefined ? options : { ...options, logLevel: level };
    installErrorTransfer();
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    this.pool = new Piscina({
      filename: WORKER_ENTRY.href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
    });
    // An unhandled pool 'error' (a crash with no task in flight) would kill
    // this process; the session's own task rejection already handles crashes.
    this.pool.on('error', () => undefined);
  }

  /** Start the worker thread and wait until it answers. */
  static async start(options: StorageClientOptions): Promise<StorageClient> {
    const client = new StorageClient(options);
    try {
      client.session = await client.startSession();
    } catch (err) {
      // Nobody holds a client that failed to start: stop its pool here, or
      // the thread (and this process) would live on.
      client.closing = true;
      await client.pool.destroy();
      throw StorageError.from(err, 'STORAGE_UNAVAILABLE');
    }
    return client;
  }

  get workerRestarts(): number {
    return this.restarts;
  }

  private async startSession(): Promise<Session> {
    const { port1, port2 } = new MessageChannel();
    const task: SessionTask = {
      port: port2,
      options: { ...this.options, deadThreadIds: [...this.deadThreadIds] },
    };
    const transferList: MessagePort[] = [port2];
    if (this.logger) {
      // A channel per session: a dead thread's last lines still drain from its own port.
      const logs = new MessageChannel();
      forwardWorkerLogs(logs.port1, this.logger);
      task.logPort = logs.port2;
      transferList.push(logs.port2);
    }
    const remote = Comlink.wrap<WorkerApi>(portEndpoint(port1));
    let markDead!: (reason: StorageError) => void;
    const dead = new Promise<never>((_, reject) => (markDead = reject));
    dead.catch(() => undefined); // observed by every call; never an unhandled rejection
    const taskPromise = this.pool.run(task, { transferList }) as Promise<DrainResult>;
    const session: Session = { remote, port: port1, dead, task: taskPromise, threadId: null, alive: true };
    const end = (reason: string) => {
      if (!session.alive) return;
      session.alive = false;
      markDead(new StorageError('STORAGE_UNAVAILABLE', `the storage worker stopped (${reason}); the operation may not have been applied`, { reason }));
      port1.close();
      if (session.threadId !== null) this.deadThreadIds.push(session.threadId);
      if (!this.closing) this.restartAfter(reason);
    };
    taskPromise.then(
      () => end('session ended'),
      (err: unknown) => end(err instanceof Error ? err.message : String(err)),
    );
    port1.on('close', () => end('port closed'));
    const ping = await this.withDeadline(session, () => remote.ping(), 'ping');
    session.threadId = ping.threadId;
    return session;
  }

  private restartAfter(reason: string): void {
    this.restarts++;
    this.starting = this.startSession();
    this.starting.then(
      (s) => {
        this.session = s;
        this.starting = null;
        this.emit('workerRestart', { restarts: this.restarts, reason });
      },
      () => {
        // The new session failed to come up (its own 'end' schedules the next try).
        this.starting = null;
      },
    );
  }

  /** The live session, waiting (bounded) for a restart in progress. */
  private async current(): Promise<Session> {
    if (this.closing) throw new StorageError('STORAGE_UNAVAILABLE', 'the storage client is closed');
    if (this.session.alive) return this.session;
    if (this.starting) return this.starting;
    throw new StorageError('STORAGE_UNAVAILABLE', 'the storage worker is restarting');
  }

  private withDeadline<T>(session: Session, fn: () => Promise<T>, method: string): Promise<T> {
    return withDeadline(Promise.race([fn(), session.dead]), this.callTimeoutMs, () => {
      throw new StorageError('STORAGE_UNAVAILABLE', `the storage worker did not answer ${method} within ${this.callTimeoutMs} ms`, { method });
    });
  }

  /**
   * `sent` are the caller's objects among the arguments: the structured clone
   * that carries them to the worker recurses, so a value nested a few
   * thousand levels deep would overflow the stack inside postMessage (a bare
   * RangeError, which used to become INTERNAL). They are measured first,
   * without recursion; the worker applies the same limit when it serialises
   * content. A cycle counts as infinitely deep.
   */
  private async call<T>(method: string, fn: (remote: Comlink.Remote<WorkerApi>) => Promise<T>, ...sent: unknown[]): Promise<T> {
    if (sent.some((value) => exceedsJsonDepth(value, MAX_JSON_DEPTH))) throw tooDeepError(MAX_JSON_DEPTH);
    const session = await this.current();
    try {
      return await this.withDeadline(session, () => fn(session.remote), method);
    } catch (err) {
      throw StorageError.from(err);
    }
  }

  /** Commit everything queued, release every lock, stop the worker thread. */
  async close(): Promise<DrainResult> {
    if (this.closing) return { projects: 0, operations: 0 };
    let result: DrainResult = { projects: 0, operations: 0 };
    const session = this.session.alive ? this.session : await this.starting?.catch(() => null);
    // From here on a session ending is the stop we asked for, not a death to recover from.
    this.closing = true;
    try {
      if (session?.alive) {
        // The session task resolves with the drain result once the worker has
        // committed everything; its resolution, not comlink's reply, is the
        // answer (the two travel on different ports, in no fixed order).
        session.remote.stopSession().catch(() => undefined);
        result = await this.withDeadline({ ...session, dead: new Promise<never>(() => undefined) }, () => session.task, 'stopSession');
      }
    } finally {
      session?.remote[Comlink.releaseProxy]?.();
      session?.port.close();
      await this.pool.destroy();
    }
    return result;
  }

  // --- StorageApi ----------------------------------------------------------------

  createProject(input: { name: string; id?: string }): Promise<ProjectInfo> {
    return this.call('createProject', (r) => r.createProject(input), input);
  }
  listProjects(): Promise<ProjectInfo[]> {
    return this.call('listProjects', (r) => r.listProjects());
  }
  getProject(projectId: string): Promise<ProjectInfo> {
    return this.call('getProject', (r) => r.getProject(projectId));
  }
  deleteProject(projectId: string): Promise<void> {
    return this.call('deleteProject', (r) => r.deleteProject(projectId));
  }
  listMedia(projectId: string): Promise<MediaDocument> {
    return this.call('listMedia', (r) => r.listMedia(projectId));
  }
  listMediaJson(projectId: string): Promise<Uint8Array> {
    return this.call('listMediaJson', (r) => r.listMediaJson(projectId));
  }
  getMedia(projectId: string, fileId: string): Promise<MediaRecord> {
    return this.call('getMedia', (r) => r.getMedia(projectId, fileId));
  }
  addMedia(projectId: string, records: NewMediaRecord[]): Promise<MediaRecord[]> {
    return this.call('addMedia', (r) => r.addMedia(projectId, records), records);
  }
  updateMetadata(projectId: string, fileId: string, patch: MetadataPatch): Promise<MediaRecord> {
    return this.call('updateMetadata', (r) => r.updateMetadata(projectId, fileId, patch), patch);
  }
  deleteMedia(projectId: string, fileIds: string[]): Promise<DeleteMediaResult> {
    return this.call('deleteMedia', (r) => r.deleteMedia(projectId, fileIds), fileIds);
  }

  deleteMediaFile(projectId: string, fileId: string): Promise<MediaRecord> {
    return this.call('deleteMediaFile', (r) => r.deleteMediaFile(projectId, fileId));
  }
  saveContent(projectId: string, source: UsageSource, content: unknown): Promise<SaveContentResult> {
    return this.call('saveContent', (r) => r.saveContent(projectId, source, content), content);
  }
  readContent(projectId: string, source: UsageSource): Promise<unknown> {
    return this.call('readContent', (r) => r.readContent(projectId, source));
  }
  listPages(projectId: string): Promise<string[]> {
    return this.call('listPages', (r) => r.listPages(projectId));
  }
  deleteContent(projectId: string, source: UsageSource): Promise<void> {
    return this.call('deleteContent', (r) => r.deleteContent(projectId, source));
  }
  setUsage(projectId: string, source: UsageSource, mediaPaths: string[]): Promise<SaveContentResult> {
    return this.call('setUsage', (r) => r.setUsage(projectId, source, mediaPaths), mediaPaths);
  }
  refreshUsage(projectId: string): Promise<RefreshUsageResult> {
    return this.call('refreshUsage', (r) => r.refreshUsage(projectId));
  }
  usage(projectId: string, fileId: string): Promise<UsageInfo> {
    return this.call('usage', (r) => r.usage(projectId, fileId));
  }
  async stats(): Promise<StorageStats> {
    const stats = await this.call('stats', (r) => r.stats());
    return { ...stats, workerRestarts: this.restarts };
  }
  ping(): Promise<WorkerPing> {
    return this.call('ping', (r) => r.ping());
  }
  drain(): Promise<DrainResult> {
    return this.call('drain', (r) => r.drain());
  }
  injectFaults(faults: FaultSpec[]): Promise<void> {
    return this.call('injectFaults', (r) => r.injectFaults(faults));
  }
  clearFaults(): Promise<void> {
    return this.call('clearFaults', (r) => r.clearFaults());
  }
}
