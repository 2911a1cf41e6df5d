/**
 * The real server as a child process, for the lifecycle tests: started the
 * way `npm start` starts it (`node dist/bin/mediastore.js`) on a free port and a
 * temp data dir, its JSON log lines collected, its exit observable. Plus a
 * request whose body arrives in two parts, to hold a request in flight for as
 * long as a test needs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'mediastore.js');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LogLine = Record<string, unknown>;

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  pid: number;
  lines: LogLine[];
  stderr: string[];
  exited: Promise<ExitInfo>;
  /** resolves with the first line (already seen or still to come) that matches */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

/** Starts a server and waits for its `listening` line. */
export async function startServer(dataDir: string, env: NodeJS.ProcessEnv = {}, port?: number): Promise<ServerProcess> {
  const usePort = port ?? (await freePort());
  const child = spawn(process.execPath, ['--enable-source-maps', ENTRY], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: String(usePort), HOST: '127.0.0.1', DATA_DIR: dataDir },
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      line = { msg: text, unparsed: true };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));
  const exited = new Promise<ExitInfo>((res) => child.once('exit', (code, signal) => res({ code, signal })));

  const server: ServerProcess = {
    child,
    port: usePort,
    pid: child.pid ?? -1,
    lines,
    stderr,
    exited,
    waitForLine(match, timeoutMs = 15_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((res, rej) => {
        const timer = setTimeout(() => {
          rej(new Error(`no matching log line within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr.join('\n')}`));
        }, timeoutMs);
        const onExit = (): void => {
          clearTimeout(timer);
          rej(new Error(`server exited before a matching line; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr.join('\n')}`));
        };
        void exited.then(onExit);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            res(l);
          },
        });
      });
    },
  };
  await server.waitForLine((l) => l.msg === 'listening');
  return server;
}

/** Ends a server that a test left running (SIGKILL) and waits for it. */
export async function killServer(server: ServerProcess | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGKILL');
  await server.exited;
}

/** Resolves with the exit, or rejects after `ms`. */
export async function exitWithin(server: ServerProcess, ms: number): Promise<ExitInfo> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`server pid ${server.pid} still running ${ms} ms later`)), ms);
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A JSON request whose body is sent in two parts: the first now, the rest
 * when `finish()` is called. Until then the request is in flight on the
 * server (its handler is reading the body).
 */
export function slowJsonRequest(port: number, method: string, path: string, json: unknown): { answer: Promise<Answer>; finish: () => void; abort: () => void } {
  const text = JSON.stringify(json);
  const half = Math.floor(text.length / 2);
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method,
    path,
    agent: false,
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
  });
  const answer = new Promise<Answer>((res, rej) => {
    req.on('response', (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
      r.on('error', rej);
    });
    req.on('error', rej);
  });
  // Observed later with `await`; a reset before then must not count as unhandled.
  answer.catch(() => undefined);
  req.write(text.slice(0, half));
  return {
    answer,
    finish: () => req.end(text.slice(half)),
    abort: () => req.destroy(),
  };
}

/** A plain JSON request on its own connection (no keep-alive socket left behind). */
export function jsonRequest(port: number, method: string, path: string, json?: unknown): Promise<{ status: number; body: unknown; headers: IncomingHttpHeaders }> {
  return new Promise((res, rej) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, headers: json === undefined ? {} : { 'content-type': 'application/json' } });
    req.on('response', (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (text += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: text ? (JSON.parse(text) as unknown) : undefined }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}
