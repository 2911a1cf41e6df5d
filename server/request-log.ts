/**
 * One JSON log line per HTTP request: request id, method, route, status and
 * duration — and nothing else on the happy path.
 *
 * Mounted outside the error responder, so the status it logs is the one the
 * client received. The request id is the one the app's request-id middleware
 * chose (or, mounted alone, a well-formed `X-Request-Id` header or a new
 * uuid); a child logger carrying it is left on `ctx.state.log`.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from './logger.js';

/** What the middleware leaves on `ctx.state` for the handlers below it. */
export interface RequestLogState {
  requestId: string;
  log: Logger;
}

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The route pattern that served the request (`/api/media/projects/:projectId/media`),
 * never the raw URL: ids in URLs would make log grouping and metric labels
 * unbounded. Requests no route matched share one label.
 */
export function routeLabel(ctx: Context): string {
  const matched: unknown = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const fixed: unknown = ctx.state.routeLabel;
  if (typeof fixed === 'string') return fixed;
  return 'unmatched';
}

export function requestLog(logger: Logger): Middleware {
  return async function requestLogMiddleware(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    // The app's request-id middleware may already have named the request.
    let requestId: unknown = ctx.state.requestId;
    if (typeof requestId !== 'string') {
      const header = ctx.get('X-Request-Id');
      requestId = CLIENT_ID.test(header) ? header : randomUUID();
      ctx.state.requestId = requestId;
      ctx.set('X-Request-Id', requestId as string);
    }
    const log = logger.child({ reqId: requestId });
    ctx.state.log = log;
    // Debug only: says a request reached the app (tests wait for it before
    // signalling; a hung request shows up as a "received" without its line).
    if (log.isLevelEnabled('debug')) log.debug({ method: ctx.method, url: ctx.url }, 'request received');

    let thrown: unknown;
    try {
      await next();
    } catch (err) {
      // Only reached when nothing below mapped the error; koa will answer 500
      // (or the error's own status), and this line must say so.
      thrown = err;
      throw err;
    } finally {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const status = thrown === undefined ? ctx.status : statusOf(thrown);
      const line = {
        method: ctx.method,
        route: routeLabel(ctx),
        status,
        durationMs: Math.round(durationMs * 100) / 100,
      };
      if (status >= 500) log.warn(line, 'request failed');
      else log.info(line, 'request');
    }
  };
}

function statusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null) {
    const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
    if (typeof s === 'number' && s >= 400 && s < 600) return s;
  }
  return 500;
}
