/**
 * The harness's HTTP client: sends one editor request to whichever server is
 * ready, and retries it when the server was down (connection refused, reset,
 * closed) or answered 503 — exactly what an editor's autosave does — until it
 * gets an answer or gives up.
 *
 * It also polices every answer: a 5xx other than 503 is a violation, a 503
 * outside a restart window is a violation, and no response may name a storage
 * failure (STORAGE_IO, CORRUPT_DOCUMENT, INTERNAL, ENOENT).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, FormData, request } from 'undici';
import type { Fleet } from './chaos-servers.js';
import type { ChaosReport } from './chaos-report.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpCall {
  method: Method;
  path: string;
  json?: unknown;
  /** built anew for every attempt (a FormData body is consumed by sending it) */
  form?: () => FormData;
  /** a label for violation messages */
  what: string;
}

export interface HttpAnswer {
  status: number;
  /** parsed JSON, or undefined for a non-JSON body */
  json: unknown;
  bytes: Buffer;
  /** tries made, 1 when the first one was answered */
  attempts: number;
  /** seq of the server that answered */
  server: number;
}

/** The request was never answered within the give-up time. */
export interface NoAnswer {
  status: 0;
  attempts: number;
  lastError: string;
}

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
]);
const FORBIDDEN_CODES = new Set(['STORAGE_IO', 'CORRUPT_DOCUMENT', 'INTERNAL']);

export class ChaosHttp {
  private readonly agent = new Agent({
    connections: 16,
    keepAliveTimeout: 2000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    connectTimeout: 2000,
  });

  constructor(
    private readonly fleet: Fleet,
    private readonly report: ChaosReport,
    private readonly giveUpMs = 30_000,
  ) {}

  async send(call: HttpCall): Promise<HttpAnswer | NoAnswer> {
    const deadline = Date.now() + this.giveUpMs;
    let attempts = 0;
    let lastError = 'no server was ready';
    this.report.requests += 1;
    for (;;) {
      if (Date.now() > deadline) {
        this.report.violate(`${call.what}: no answer within ${this.giveUpMs} ms after ${attempts} tries (${lastError})`);
        return { status: 0, attempts, lastError };
      }
      const server = this.fleet.pick();
      if (!server) {
        await sleep(15);
        continue;
      }
      attempts += 1;
      if (attempts > 1) this.report.retries += 1;
      const started = Date.now();
      let status: number;
      let bytes: Buffer;
      try {
        const res = await request(`http://127.0.0.1:${server.port}${call.path}`, {
          method: call.method,
          dispatcher: this.agent,
          headers: call.json !== undefined ? { 'content-type': 'application/json' } : {},
          body: call.json !== undefined ? JSON.stringify(call.json) : call.form ? call.form() : null,
        });
        status = res.statusCode;
        bytes = Buffer.from(await res.body.arrayBuffer());
      } catch (err) {
        const code = errorCode(err);
        if (code !== undefined && RETRYABLE_CODES.has(code)) {
          lastError = code;
          await sleep(10 + Math.random() * 30);
          continue;
        }
        this.report.violate(`${call.what}: request to server #${server.seq} failed with ${code ?? String(err)}`);
        return { status: 0, attempts, lastError: code ?? String(err) };
      }
      const json = parseJson(bytes);
      this.police(call, status, json, bytes, started, server.seq);
      if (status === 503) {
        lastError = '503';
        await sleep(20 + Math.random() * 50);
        continue;
      }
      return { status, json, bytes, attempts, server: server.seq };
    }
  }

  private police(call: HttpCall, status: number, json: unknown, bytes: Buffer, started: number, server: number): void {
    const where = `${call.what} (server #${server})`;
    this.report.check(status < 500 || status === 503, () => `${where}: status ${status} ${bytes.toString().slice(0, 300)}`);
    if (status === 503) {
      const excused = this.fleet.inRestartWindow(started, Date.now());
      if (excused) this.report.excused503 += 1;
      this.report.check(excused, () => `${where}: 503 outside any restart window ${bytes.toString().slice(0, 300)}`);
    }
    const code = typeof json === 'object' && json !== null ? (json as { code?: unknown }).code : undefined;
    this.report.check(typeof code !== 'string' || !FORBIDDEN_CODES.has(code), () => `${where}: error code ${String(code)}`);
    // Served media bytes are random; only look for ENOENT in JSON answers.
    if (json !== undefined) this.report.check(!bytes.includes('ENOENT'), () => `${where}: ENOENT in response ${bytes.toString().slice(0, 300)}`);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0 || (bytes[0] !== 0x7b && bytes[0] !== 0x5b)) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  // undici wraps socket errors; the errno code can sit on the error or its cause.
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
      return (e as { code: string }).code;
    }
    e = typeof e === 'object' && e !== null && 'cause' in e ? (e as { cause: unknown }).cause : undefined;
  }
  return undefined;
}
