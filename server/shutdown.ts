/**
 * Graceful drain on SIGTERM, SIGINT, SIGHUP and SIGUSR2.
 *
 * The order matters, and each step exists because of the hot-reload overlap
 * this service was built for (a watcher starts the new process while the old
 * one is still writing):
 *
 * 1. Stop listening at once, so the next process can bind the port while this
 *    one finishes its work. Idle keep-alive sockets are closed, and every
 *    response from now on carries `Connection: close`, or clients would keep
 *    talking to a process that is going away.
 * 2. Let in-flight requests finish. They are the only ones that can still be
 *    acknowledged, and an acknowledgement is only sent after the storage
 *    worker has made the change durable.
 * 3. Close storage: commit what is queued, release every project lock (so the
 *    new process does not wait on them), stop the worker thread.
 * 4. Exit. SIGUSR2 is re-raised with its default action, as nodemon expects
 *    (it waits for the child to die by that signal before starting the next).
 *
 * A second signal, or the deadline, forces exit and logs what was abandoned.
 * That loses nothing acknowledged: nothing is acknowledged before it is on disk.
 * "Second" means one that comes after a short grace period: one request to
 * stop often arrives as several signals — nodemon sends SIGUSR2 twice (to the
 * child, then again after walking its process tree), and Ctrl-C reaches every
 * process of the terminal's group while nodemon forwards its own signal — and
 * those repeats must not cut the drain short.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'];

/** Signals within this long after the first are repeats of the same request, not a demand to force. */
export const REPEAT_GRACE_MS = 1000;

export interface ShutdownOptions {
  server: Server;
  /** drains queued commits, releases every lock, stops the worker */
  storage: { close(): Promise<unknown> };
  logger: Logger;
  /** total time from the first signal to a forced exit */
  deadlineMs: number;
  /** how the process ends; replaced only by tests of this module */
  exit?: (how: ExitPlan) => void;
}

/** How the process ends: an exit code, or dying by a re-raised signal. */
export type ExitPlan = { code: number } | { signal: NodeJS.Signals };

type Phase = 'running' | 'requests' | 'storage' | 'done';

export class GracefulShutdown {
  private readonly inFlight = new Map<ServerResponse, { method: string; url: string; started: number }>();
  private phase: Phase = 'running';
  private signal: NodeJS.Signals | 'deadline' | undefined;
  private startedAt = 0;
  private deadline: NodeJS.Timeout | undefined;
  private readonly exit: (how: ExitPlan) => void;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  /** resolves the drain's wait once the last in-flight request has closed */
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: ShutdownOptions) {
    this.exit = options.exit ?? defaultExit;
    options.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.track(req, res));
  }

  /** Whether a drain has started (start-up code checks this before each step). */
  get stopping(): boolean {
    return this.phase !== 'running';
  }

  /** Requests received and not yet answered (or abandoned by their client). */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Registers the handlers: the first signal starts the drain, one after the repeat grace period forces exit. */
  install(signals: readonly NodeJS.Signals[] = SHUTDOWN_SIGNALS): void {
    for (const signal of signals) {
      const handler = (): void => this.onSignal(signal);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.phase === 'running') {
      void this.begin(signal);
      return;
    }
    if (Date.now() - this.startedAt < REPEAT_GRACE_MS) {
      this.options.logger.info({ signal, first: this.signal }, 'repeated stop signal during the drain: ignored (send it again to force)');
      return;
    }
    this.force(`second signal ${signal}`);
  }

  /**
   * Starts the drain; resolves once the process has been told to exit.
   * `exitCode` is for a drain the process starts itself because it cannot go
   * on (e.g. the port stays taken): it still releases its locks, then fails.
   */
  async begin(signal: NodeJS.Signals, exitCode = 0): Promise<void> {
    if (this.phase !== 'running') return;
    const { server, storage, logger, deadlineMs } = this.options;
    this.signal = signal;
    this.startedAt = Date.now();
    this.phase = 'requests';
    this.deadline = setTimeout(() => this.force(`deadline of ${deadlineMs} ms passed`), deadlineMs);
    this.deadline.unref();

    // Responses already under way but not yet sent get `Connection: close`
    // too. The few that already sent their headers leave a keep-alive socket
    // behind when they finish; closeAllConnections() below ends those.
    for (const res of this.inFlight.keys()) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Logged once the listening socket is closed (close() does that at once), so the line is true when read.
    logger.info({ signal, inFlight: this.inFlight.size, deadlineMs }, 'shutting down: no longer accepting connections');

    await Promise.race([closed, this.requestsDone()]);
    // Sockets whose requests are done but which never became idle (a client
    // that opened a connection and sent nothing) must not hold up the exit.
    server.closeAllConnections();
    if (this.phase !== 'requests') return; // forced meanwhile

    this.phase = 'storage';
    let drained: unknown;
    try {
      drained = await storage.close();
    } catch (err) {
      if (this.phase !== 'storage') return;
      logger.error({ err, signal }, 'storage did not close cleanly');
      this.finish({ code: 1 });
      return;
    }
    if (this.phase !== 'storage') return;
    logger.info({ signal, durationMs: Date.now() - this.startedAt, drained }, 'shut down cleanly');
    this.finish(signal === 'SIGUSR2' && exitCode === 0 ? { signal } : { code: exitCode });
  }

  private requestsDone(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onIdle = resolve;
    });
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    if (this.phase !== 'running') res.setHeader('Connection', 'close');
    this.inFlight.set(res, { method: req.method ?? '?', url: req.url ?? '?', started: Date.now() });
    res.once('close', () => {
      this.inFlight.delete(res);
      if (this.inFlight.size === 0 && this.onIdle) {
        const resolve = this.onIdle;
        this.onIdle = undefined;
        resolve();
      }
    });
  }

  private force(reason: string): void {
    if (this.phase === 'done') return;
    const now = Date.now();
    const abandoned = {
      requests: [...this.inFlight.values()].map((r) => ({ method: r.method, url: r.url, ageMs: now - r.started })),
      // Still in 'requests' means storage was never closed: its queue held only
      // work for those requests, none of it acknowledged.
      storageClose: this.phase === 'storage' ? 'in progress' : this.phase === 'requests' ? 'not started' : 'done',
    };
    this.options.logger.error(
      { signal: this.signal, reason, elapsedMs: this.startedAt ? now - this.startedAt : 0, abandoned },
      'forced exit: abandoning unfinished work (none of it was acknowledged)',
    );
    this.finish({ code: 1 });
  }

  private finish(how: ExitPlan): void {
    this.phase = 'done';
    clearTimeout(this.deadline);
    if ('signal' in how) {
      // Re-raising needs our own handler gone, or we would catch it again.
      for (const [signal, handler] of this.handlers) process.removeListener(signal, handler);
    }
    this.exit(how);
  }
}

function defaultExit(how: ExitPlan): void {
  if ('signal' in how) {
    process.kill(process.pid, how.signal);
    return;
  }
  process.exit(how.code);
}
