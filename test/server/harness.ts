/**
 * A real server for HTTP tests: `createApp` with a real StorageClient on a
 * fresh temp data dir, listening on 127.0.0.1 on a free port, plus a small
 * HTTP client (node:http, so tests can send any Host/Origin header and read
 * every response header) and helpers to build multipart bodies and hash the
 * data directory.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { createApp, type AppDeps } from '../../server/app.js';
import { loadConfig, type ServerConfig } from '../../server/config.js';
import { StorageClient } from '../../client/storage-client.js';
import { StorageError } from '../../shared/errors.js';
import type { StorageOptions } from '../../shared/storage-api.js';
import type { MediaRecord, ProjectInfo } from '../../shared/media-types.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

export interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** the body parsed as JSON (throws when it is not JSON) */
  json: Record<string, unknown>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** a JSON body (sets Content-Type) */
  json?: unknown;
  agent?: http.Agent;
}

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  storage: StorageClient;
  config: ServerConfig;
  /** pino lines at level ≥ warn, parsed */
  logs: Array<Record<string, unknown>>;
  request(method: string, path: string, options?: RequestOptions): Promise<Res>;
  createProject(name: string, id?: string): Promise<ProjectInfo>;
  upload(projectId: string, files: UploadPart[], options?: RequestOptions): Promise<Res>;
  close(): Promise<void>;
}

export interface UploadPart {
  filename: string;
  data: Buffer;
  contentType?: string;
  field?: string;
}

/** App dependencies a test may replace (seams); the rest is always real. */
export type AppSeams = Pick<AppDeps, 'uploadFs' | 'uploadNameClaim' | 'blobs'>;

export async function startServer(
  label: string,
  env: NodeJS.ProcessEnv = {},
  storageOptions: Partial<StorageOptions> = {},
  seams: AppSeams = {},
): Promise<TestServer> {
  const dataDir = await makeTempDir(label);
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger: Logger = pino({ level: 'warn' }, sink);
  const storage = await StorageClient.start({ dataDir, logLevel: 'silent', ...storageOptions });
  const app = createApp({ storage, dataDir, config, logger, ...seams });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const url = `http://127.0.0.1:${port}`;

  const request = (method: string, path: string, options: RequestOptions = {}): Promise<Res> =>
    send(port, method, path, { agent, ...options });

  return {
    url,
    port,
    dataDir,
    storage,
    config,
    logs,
    request,
    async createProject(name, id) {
      const res = await request('POST', '/api/projects', { json: id === undefined ? { name } : { name, id } });
      if (res.status !== 201) throw new Error(`createProject: ${res.status} ${res.text}`);
      return res.json as unknown as ProjectInfo;
    },
    upload(projectId, files, options = {}) {
      const form = multipart(files);
      return request('POST', `/api/media/projects/${projectId}/media`, {
        ...options,
        headers: { 'content-type': form.contentType, ...options.headers },
        body: form.body,
      });
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        await storage.close();
      } catch (err) {
        // Known client race (reported to the storage owner): the worker's
        // session can end before the reply to stopSession arrives, and close()
        // then rejects although the worker stopped cleanly. Only that exact
        // case is tolerated here.
        if (!(err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE' && err.details?.reason === 'session ended')) throw err;
      } finally {
        await removeTempDir(dataDir);
      }
    },
  };
}

export function send(port: number, method: string, path: string, options: RequestOptions = {}): Promise<Res> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  if (body !== undefined && headers['transfer-encoding'] === undefined) headers['content-length'] ??= String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(makeRes(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function makeRes(status: number, headers: IncomingHttpHeaders, body: Buffer): Res {
  const text = body.toString('utf8');
  let parsed: Record<string, unknown> | undefined;
  return {
    status,
    headers,
    body,
    text,
    get json() {
      parsed ??= JSON.parse(text) as Record<string, unknown>;
      return parsed;
    },
  };
}

/** multipart/form-data encoding of `parts` (field `files` unless given). */
export function multipart(parts: UploadPart[]): { body: Buffer; contentType: string } {
  const boundary = `----mediastore-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${p.field ?? 'files'}"; filename="${p.filename}"\r\n` +
          `Content-Type: ${p.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        'utf8',
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** sha256 over every path and file content under `dir` (sorted), to prove a request changed nothing. */
/**
 * The project lock file is coordination, not data: the storage worker may
 * still hold it for a few ms after answering (a lease over back-to-back
 * commits), so snapshots of the data tree leave it out, with the files it is
 * made from and beside (`media.json.lock.tmp.*`, the claim and the waiter
 * hint), which come and go at any moment (a snapshot could list one and
 * then fail to read it).
 */
function isTransientLock(name: string): boolean {
  return name === 'media.json.lock' || name.startsWith('media.json.lock.');
}

export async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (isTransientLock(e.name)) continue;
      const full = join(d, e.name);
      hash.update(`${relative(dir, full)}\u0000${e.isDirectory() ? 'd' : 'f'}\u0000`);
      if (e.isDirectory()) await walk(full);
      else hash.update(await readFile(full));
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

/** Every file name under `dir` (relative, sorted). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (isTransientLock(e.name)) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(dir, full));
    }
  };
  await walk(dir);
  return out.sort();
}

export function uploadsDir(server: TestServer, projectId: string): string {
  return join(server.dataDir, 'projects', projectId, 'uploads');
}

/** The records of a 201 upload answer. */
export function processed(res: Res): MediaRecord[] {
  return res.json.processedFiles as MediaRecord[];
}

/** Asserts the common error shape: status, `code`, a non-empty human `error`, JSON, no stack. */
export function assertError(res: Res, status: number, code: string): void {
  if (res.status !== status || !String(res.headers['content-type'] ?? '').startsWith('application/json')) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${res.headers['content-type']} ${res.text.slice(0, 300)}`);
  }
  const body = res.json;
  if (body.code !== code) throw new Error(`expected code ${code}, got ${String(body.code)} (${res.text.slice(0, 300)})`);
  if (typeof body.error !== 'string' || body.error.length === 0) throw new Error(`error message missing: ${res.text}`);
  if (/\bat .+:\d+:\d+/.test(res.text)) throw new Error(`stack trace in response: ${res.text}`);
}

/**
 * Sends `body` in 64 KB writes and stops writing as soon as a response
 * arrives: how a browser behaves when a server refuses an upload early
 * (413). Write errors after the response (the server closed the connection)
 * are expected and ignored; an error before any response fails.
 */
export function sendEarlyAnswer(port: number, path: string, headers: Record<string, string>, body: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined); // the connection may be cut after the body; what was read is the answer
      res.on('close', () => resolve(makeRes(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const CHUNK = 64 * 1024;
    let offset = 0;
    const pump = (): void => {
      while (!answered && offset < body.byteLength) {
        const piece = body.subarray(offset, offset + CHUNK);
        offset += piece.byteLength;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}
