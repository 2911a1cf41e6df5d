/**
 * The chaos harness's server processes: each one is the real server started
 * the way `npm start` starts it (`node dist/bin/mediastore.js`), on a shared
 * temp data dir, with its JSON log read line by line.
 *
 * The fleet knows which servers are ready (clients pick one of those), keeps
 * the restart windows (from a signal or a spawn until the process has exited
 * or is ready, plus a grace period) during which a 503 is acceptable, and
 * reports log lines that show a problem: any error/fatal line, any ENOENT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type ServerState = 'starting' | 'ready' | 'stopping' | 'exited';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the server's start-up line said (see server/main.ts). */
export interface StartupLine {
  pid: number;
  address: string;
  startup?: unknown;
}

export interface ServerProcess {
  /** 1, 2, 3, … in spawn order */
  seq: number;
  pid: number;
  port: number;
  state: ServerState;
  child: ChildProcess;
  /** resolves with the start-up line; rejects if the process exits first */
  ready: Promise<StartupLine>;
  exited: Promise<ExitInfo>;
  signalSent?: NodeJS.Signals;
  spawnedAt: number;
  readyAt?: number;
  signalledAt?: number;
}

export interface FleetOptions {
  entry: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** a log line (or stderr line) that shows a problem */
  onProblem: (server: ServerProcess, line: string) => void;
  /** every parsed JSON log line, for counters (sweeps, takeovers) */
  onLogLine?: (server: ServerProcess, line: Record<string, unknown>) => void;
  /** how long after a window closes a 503 is still excused */
  graceMs?: number;
  /** write each server's stdout and stderr to `<logDir>/server-<seq>.log` */
  logDir?: string;
}

interface Window {
  from: number;
  to: number | undefined;
}

const EXCUSABLE_TEXT = /STORAGE_UNAVAILABLE|LOCK_TIMEOUT/;
const PROBLEM_TEXT = /ENOENT|EPERM|EBUSY|Unhandled|uncaught|TypeError|ReferenceError|CORRUPT_DOCUMENT|STORAGE_IO/i;

export class Fleet {
  private readonly servers: ServerProcess[] = [];
  private readonly windows: Window[] = [];
  private seq = 0;
  private readonly graceMs: number;

  constructor(private readonly options: FleetOptions) {
    this.graceMs = options.graceMs ?? 1500;
  }

  spawn(port: number): ServerProcess {
    const child = spawn(process.execPath, ['--enable-source-maps', this.options.entry], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...this.options.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: this.options.dataDir,
      },
    });
    const window: Window = { from: Date.now(), to: undefined };
    this.windows.push(window);

    let resolveReady!: (line: StartupLine) => void;
    let rejectReady!: (err: Error) => void;
    const ready = new Promise<StartupLine>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => undefined); // observed through `exited` as well; never unhandled
    const exited = new Promise<ExitInfo>((res) => {
      child.once('exit', (code, signal) => res({ code, signal }));
    });

    const server: ServerProcess = {
      seq: ++this.seq,
      pid: child.pid ?? -1,
      port,
      state: 'starting',
      child,
      ready,
      exited,
      spawnedAt: Date.now(),
    };
    this.servers.push(server);

    if (this.options.logDir) {
      const file = createWriteStream(join(this.options.logDir, `server-${server.seq}.log`));
      child.stdout!.pipe(file, { end: false });
      child.stderr!.pipe(file, { end: false });
      void exited.then(() => file.end(`# exited\n`));
    }
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
        if (PROBLEM_TEXT.test(text)) this.options.onProblem(server, text);
        return;
      }
      if (isErrorLevel(line.level) || PROBLEM_TEXT.test(text)) {
        // A request answered 503 (storage unavailable, lock timeout) while a
        // process is starting or stopping: the restart window the issue allows
        // 503s in. The client polices the answer itself; nothing else is excused.
        const now = Date.now();
        const excused =
          line.msg === 'request failed' &&
          line.status === 503 &&
          EXCUSABLE_TEXT.test(text) &&
          !PROBLEM_TEXT.test(text) &&
          this.inRestartWindow(now, now);
        if (!excused) this.options.onProblem(server, text);
      }
      this.options.onLogLine?.(server, line);
      if (line.msg === 'listening' && server.state === 'starting') {
        server.state = 'ready';
        server.readyAt = Date.now();
        window.to = Date.now();
        resolveReady({ pid: Number(line.pid), address: String(line.address), startup: line.startup });
      }
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      if (text.trim() === '') return;
      // Node prints warnings on stderr; only text that names a failure counts.
      if (PROBLEM_TEXT.test(text) || /error/i.test(text)) this.options.onProblem(server, `stderr: ${text}`);
    });
    void exited.then(() => {
      if (server.state === 'starting') {
        window.to = Date.now();
        rejectReady(new Error(`server #${server.seq} exited before it was ready`));
      }
      server.state = 'exited';
    });
    return server;
  }

  /** Sends `signal`; the restart window stays open until the process has exited. */
  signal(server: ServerProcess, signal: NodeJS.Signals): void {
    if (server.state === 'exited') return;
    if (server.state !== 'stopping') {
      const window: Window = { from: Date.now(), to: undefined };
      this.windows.push(window);
      void server.exited.then(() => {
        window.to = Date.now();
      });
    }
    server.state = 'stopping';
    server.signalSent ??= signal;
    server.signalledAt ??= Date.now();
    server.child.kill(signal);
  }

  /** Servers that accept requests now. */
  ready(): ServerProcess[] {
    return this.servers.filter((s) => s.state === 'ready');
  }

  /** Servers not yet exited. */
  alive(): ServerProcess[] {
    return this.servers.filter((s) => s.state !== 'exited');
  }

  pick(): ServerProcess | undefined {
    const ready = this.ready();
    return ready[Math.floor(Math.random() * ready.length)];
  }

  /** Whether a restart window (plus grace) overlaps [from, to]. */
  inRestartWindow(from: number, to: number): boolean {
    return this.windows.some((w) => w.from <= to && (w.to === undefined || w.to + this.graceMs >= from));
  }

  /** SIGKILL whatever is still alive (the harness's own cleanup, after a failure). */
  async killAll(): Promise<void> {
    const alive = this.alive();
    for (const s of alive) s.child.kill('SIGKILL');
    await Promise.all(alive.map((s) => s.exited));
  }
}

/** pino levels: numbers (50 error, 60 fatal) by default, labels when formatted. */
function isErrorLevel(level: unknown): boolean {
  return (typeof level === 'number' && level >= 50) || level === 'error' || level === 'fatal';
}
