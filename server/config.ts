/**
 * The server's configuration, read once from the environment. Every value has
 * a safe default for a local editor: loopback only, loopback Host names only,
 * same-origin writes only, bounded bodies and uploads.
 */
import { resolve } from 'node:path';
import { StorageError } from '../shared/errors.js';

/** Upload size caps by media kind, in bytes. */
export interface UploadLimits {
  image: number;
  video: number;
  audio: number;
  pdf: number;
}

/** What the media routes enforce on bodies and uploads (every field has a default: DEFAULT_HTTP_LIMITS). */
export interface HttpLimits {
  uploadLimits: UploadLimits;
  /** files accepted in one upload request; more are rejected by name */
  maxFilesPerRequest: number;
  /** a multipart request larger than this is refused as a whole with 413 */
  maxRequestBytes: number;
  jsonBodyLimit: number;
  /** width × height (× frames) above which an image is refused as a decompression bomb */
  maxImagePixels: number;
}

/** The request guards' policy (server/http/host-guard.ts, origin-guard.ts). */
export interface GuardPolicy {
  /** lowercase host names (no port) accepted in the Host header; `*` accepts any */
  allowedHosts: string[];
  /** origins (scheme://host[:port]) allowed to send POST/PUT/DELETE besides the server's own */
  allowedOrigins: string[];
  /** origins that get CORS headers (they may also write) */
  corsOrigins: string[];
}

/** The standalone server's whole configuration. */
export interface ServerConfig extends HttpLimits, GuardPolicy {
  port: number;
  host: string;
  /** absolute; with `databaseUrl`, the directory of the uploaded binaries only */
  dataDir: string;
  /** `DATABASE_URL`: media libraries in that PostgreSQL database instead of media.json files */
  databaseUrl?: string;
  logLevel: string;
  /** graceful-shutdown deadline (used by the entry file) */
  shutdownDeadlineMs: number;
}

const MB = 1024 * 1024;

export const DEFAULT_UPLOAD_LIMITS: Readonly<UploadLimits> = {
  image: 5 * MB,
  video: 50 * MB,
  audio: 25 * MB,
  pdf: 10 * MB,
};

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  uploadLimits: DEFAULT_UPLOAD_LIMITS,
  maxFilesPerRequest: 10,
  maxRequestBytes: 200 * MB,
  jsonBodyLimit: 2 * MB,
  maxImagePixels: 100_000_000,
};

/** The names a local server answers to unless told otherwise. */
export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_BIND = new Set(['0.0.0.0', '::', '[::]']);
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const host = text(env.HOST) ?? '127.0.0.1';
  const allowedHosts = list(env.ALLOWED_HOSTS)?.map((h) => h.toLowerCase()) ?? [...LOOPBACK_HOSTS];
  // Binding a specific non-loopback address means the user wants to be reached by that name.
  if (env.ALLOWED_HOSTS === undefined && !WILDCARD_BIND.has(host)) {
    const bound = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    if (!allowedHosts.includes(bound.toLowerCase())) allowedHosts.push(bound.toLowerCase());
  }
  const logLevel = (text(env.LOG_LEVEL) ?? 'info').toLowerCase();
  if (!LOG_LEVELS.has(logLevel)) invalid('LOG_LEVEL', env.LOG_LEVEL, `one of ${[...LOG_LEVELS].join(', ')}`);

  return {
    port: integer('PORT', env.PORT, 3001, 0, 65535),
    host,
    dataDir: resolve(text(env.DATA_DIR) ?? './data'),
    ...databaseUrl(env.DATABASE_URL),
    logLevel,
    uploadLimits: {
      image: bytes('UPLOAD_MAX_IMAGE_BYTES', env.UPLOAD_MAX_IMAGE_BYTES, DEFAULT_UPLOAD_LIMITS.image),
      video: bytes('UPLOAD_MAX_VIDEO_BYTES', env.UPLOAD_MAX_VIDEO_BYTES, DEFAULT_UPLOAD_LIMITS.video),
      audio: bytes('UPLOAD_MAX_AUDIO_BYTES', env.UPLOAD_MAX_AUDIO_BYTES, DEFAULT_UPLOAD_LIMITS.audio),
      pdf: bytes('UPLOAD_MAX_PDF_BYTES', env.UPLOAD_MAX_PDF_BYTES, DEFAULT_UPLOAD_LIMITS.pdf),
    },
    maxFilesPerRequest: integer('UPLOAD_MAX_FILES', env.UPLOAD_MAX_FILES, DEFAULT_HTTP_LIMITS.maxFilesPerRequest, 1, 100),
    maxRequestBytes: bytes('UPLOAD_MAX_REQUEST_BYTES', env.UPLOAD_MAX_REQUEST_BYTES, DEFAULT_HTTP_LIMITS.maxRequestBytes),
    jsonBodyLimit: bytes('JSON_BODY_LIMIT', env.JSON_BODY_LIMIT, DEFAULT_HTTP_LIMITS.jsonBodyLimit),
    maxImagePixels: integer('IMAGE_MAX_PIXELS', env.IMAGE_MAX_PIXELS, DEFAULT_HTTP_LIMITS.maxImagePixels, 1, Number.MAX_SAFE_INTEGER),
    allowedHosts,
    allowedOrigins: (list(env.ALLOWED_ORIGINS) ?? []).map((o) => origin('ALLOWED_ORIGINS', o)),
    corsOrigins: (list(env.CORS_ORIGINS) ?? []).map((o) => origin('CORS_ORIGINS', o)),
    shutdownDeadlineMs: integer('SHUTDOWN_DEADLINE_MS', env.SHUTDOWN_DEADLINE_MS, 10_000, 0, 600_000),
  };
}

function text(value: string | undefined): string | undefined {
  const t = value?.trim();
  return t ? t : undefined;
}

function list(value: string | undefined): string[] | undefined {
  const t = text(value);
  if (t === undefined) return undefined;
  return t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function invalid(name: string, value: unknown, expected: string): never {
  throw new StorageError('INVALID_INPUT', `Expected \`${name}\` to be ${expected}, got ${JSON.stringify(value)}`, { variable: name });
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  const t = text(value);
  if (t === undefined) return fallback;
  if (!/^\d+$/.test(t)) invalid(name, value, `an integer from ${min} to ${max}`);
  const n = Number(t);
  if (n < min || n > max) invalid(name, value, `an integer from ${min} to ${max}`);
  return n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: MB, m: MB, gb: 1024 * MB, g: 1024 * MB };

/** `5242880`, `5mb`, `512kb`, `1.5 MB` → bytes. */
function bytes(name: string, value: string | undefined, fallback: number): number {
  const t = text(value);
  if (t === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(t);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = UNITS[unit];
  if (!m || factor === undefined) invalid(name, value, 'a byte count such as 5242880, 512kb or 5mb');
  const n = Math.floor(Number(m[1]) * factor);
  if (n < 1) invalid(name, value, 'at least 1 byte');
  return n;
}

function origin(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return invalid(name, value, 'a list of origins such as http://localhost:5173');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(name, value, 'http or https origins');
  return url.origin;
}

/** Unset or empty: the JSON files (the embedded default). Else a postgres:// URL. */
function databaseUrl(raw: string | undefined): { databaseUrl?: string } {
  const value = text(raw);
  if (value === undefined) return {};
  if (!/^postgres(ql)?:\/\//.test(value)) invalid('DATABASE_URL', value.replace(/:[^:@/]*@/, ':***@'), 'a postgres:// or postgresql:// URL');
  return { databaseUrl: value };
}
