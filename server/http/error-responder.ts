/**
 * The one place where failures become HTTP responses. Every error body is
 * `{ error, code, ...extra }`. A 5xx never carries a stack or an internal
 * message to the client: it says what kind of failure it was and gives the
 * request id, and the full error is logged under that id.
 */
import type { Middleware } from 'koa';
import type { HostLogger as Logger } from '../../shared/host-logger.js';
import { StorageError, type StorageErrorCode } from '../../shared/errors.js';
import { HttpError } from './http-error.js';
import type { AppState } from './app-state.js';

interface Mapped {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Seconds a client should wait before retrying a 503 (a lock wait or a worker restart is short). */
const RETRY_AFTER_SECONDS = '1';

const STORAGE_STATUS: Record<StorageErrorCode, number> = {
  PROJECT_NOT_FOUND: 404,
  MEDIA_NOT_FOUND: 404,
  PAGE_NOT_FOUND: 404,
  MEDIA_IN_USE: 409,
  PROJECT_EXISTS: 409,
  INVALID_INPUT: 400,
  // Nesting past MAX_JSON_DEPTH: the request's shape is wrong, like any other
  // invalid input (413 is about size, and a deep body can be tiny).
  TOO_DEEP: 400,
  // Content whose saved (pretty-printed) form passes the cap: a size limit.
  CONTENT_TOO_LARGE: 413,
  LOCK_TIMEOUT: 503,
  LOCK_LOST: 503,
  STORAGE_UNAVAILABLE: 503,
  STORAGE_IO: 503,
  // A damaged media.json was set aside and writes are refused until it is
  // repaired: the service is unavailable for this project, not broken.
  CORRUPT_DOCUMENT: 503,
  INTERNAL: 500,
};

/** Client-facing messages for server-side failures (the real message goes to the log). */
const SERVER_MESSAGES: Partial<Record<StorageErrorCode, string>> = {
  LOCK_TIMEOUT: 'The project is busy (another process holds its lock); retry shortly',
  LOCK_LOST: 'Another process took over the project while this change was being saved; it was not confirmed, retry',
  STORAGE_UNAVAILABLE: 'The storage worker is unavailable; retry shortly',
  STORAGE_IO: 'The storage could not read or write the data directory; retry shortly',
  CORRUPT_DOCUMENT:
    "The project's media library file is damaged and was set aside; writes are refused until it is repaired (run the doctor command)",
  INTERNAL: 'Internal server error',
};

/**
 * The details a 4xx answer carries beside `{ error, code }`, so a client can
 * act on it: which file is used where, the limit a refused body broke.
 */
const CLIENT_DETAILS: Partial<Record<StorageErrorCode, readonly string[]>> = {
  MEDIA_IN_USE: ['fileId', 'filename', 'usedIn'],
  TOO_DEEP: ['maxDepth'],
  CONTENT_TOO_LARGE: ['maxBytes'],
};

export function mapError(err: unknown, requestId: string): Mapped {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: err.message, code: err.code, ...err.extra }, headers: err.headers };
  }
  if (err instanceof StorageError) return mapStorageError(err, requestId);
  // Errors thrown by Koa itself (ctx.throw, http-errors) carry a status.
  const status = statusOf(err);
  if (status !== undefined && status < 500) {
    const message = err instanceof Error && err.message ? err.message : 'Bad request';
    return { status, body: { error: message, code: codeForStatus(status) }, headers: {} };
  }
  return { status: 500, body: { error: 'Internal server error', code: 'INTERNAL', requestId }, headers: {} };
}

function mapStorageError(err: StorageError, requestId: string): Mapped {
  const noSpace = err.code === 'STORAGE_IO' && err.details?.errno === 'ENOSPC';
  const status = noSpace ? 507 : STORAGE_STATUS[err.code];
  if (status < 500) {
    const body: Record<string, unknown> = { error: err.message, code: err.code };
    for (const key of CLIENT_DETAILS[err.code] ?? []) {
      if (err.details?.[key] !== undefined) body[key] = err.details[key];
    }
    return { status, body, headers: {} };
  }
  const message = noSpace ? 'The disk holding the data directory is full' : (SERVER_MESSAGES[err.code] ?? 'Internal server error');
  const headers: Record<string, string> = status === 503 && err.code !== 'CORRUPT_DOCUMENT' ? { 'Retry-After': RETRY_AFTER_SECONDS } : {};
  return { status, body: { error: message, code: err.code, requestId }, headers };
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && s >= 400 && s <= 599 ? s : undefined;
}

export function codeForStatus(status: number): string {
  switch (status) {
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    default:
      return 'INVALID_INPUT';
  }
}

/**
 * Catches everything thrown downstream and answers with the mapped shape.
 * Also gives bodiless 404/405 answers (unmatched route, wrong method) the
 * same shape. 4xx are not logged (they are the client's business); 5xx are
 * logged at error level with the request id.
 */
export function errorResponder(logger: Logger): Middleware<AppState> {
  return async function errorResponderMiddleware(ctx, next) {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.body = { error: `No route for ${ctx.method} ${ctx.path}`, code: 'NOT_FOUND' };
        } else if (ctx.status === 405) {
          ctx.body = { error: `Method ${ctx.method} is not allowed here`, code: 'METHOD_NOT_ALLOWED' };
        }
      }
    } catch (err) {
      const requestId = ctx.state.requestId;
      const mapped = mapError(err, requestId);
      if (mapped.status >= 500) {
        logger.error({ err, requestId, method: ctx.method, url: ctx.url, status: mapped.status }, 'request failed');
      }
      if (ctx.headerSent || !ctx.writable) {
        // The response is already on its way (a file stream failed mid-body):
        // nothing can be said to the client any more; cut the connection so it
        // sees a truncated body rather than a silently short one.
        ctx.req.socket.destroy();
        return;
      }
      // Headers set for the failed response (Content-Type of a file, ranges)
      // must not leak into the error answer.
      for (const name of Object.keys(ctx.response.headers)) {
        if (name !== 'x-request-id' && name !== 'vary' && !name.startsWith('access-control-')) ctx.remove(name);
      }
      ctx.status = mapped.status;
      ctx.set(mapped.headers);
      ctx.body = mapped.body;
    }
  };
}
