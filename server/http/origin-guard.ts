/**
 * Cross-site write defence and CORS. Any web page the user opens can make the
 * browser send a POST/PUT/DELETE (a form, or fetch in no-cors mode) to this
 * local server; the browser cannot be stopped from sending it, but it always
 * says where it comes from (`Origin`, and `Sec-Fetch-Site` in current
 * browsers). State-changing requests from anywhere but the server's own origin
 * and the configured allowlist are refused before any handler runs.
 *
 * CORS headers are given only to the configured CORS origins, so other pages
 * can neither read responses nor pass a preflight.
 */
import type { Middleware } from 'koa';
import { HttpError } from './http-error.js';
import type { AppState } from './app-state.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CORS_METHODS = 'GET, HEAD, POST, PUT, DELETE';
const CORS_HEADERS = 'Content-Type, X-Request-Id, Range, If-None-Match, If-Modified-Since, If-Range';
const EXPOSED_HEADERS = 'X-Request-Id, Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified, Retry-After';

export interface OriginPolicy {
  allowedOrigins: readonly string[];
  corsOrigins: readonly string[];
}

export function originGuard(policy: OriginPolicy): Middleware<AppState> {
  const cors = new Set(policy.corsOrigins);
  const writers = new Set([...policy.allowedOrigins, ...policy.corsOrigins]);

  return async function originGuardMiddleware(ctx, next) {
    const origin = ctx.get('origin');
    // The Host header was checked by hostGuard, so "own origin" cannot be an
    // attacker's rebinding name here.
    const own = `${ctx.protocol}://${ctx.get('host')}`.toLowerCase();
    const isOwn = origin !== '' && origin.toLowerCase() === own;

    if (origin !== '' && cors.has(origin)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (origin !== '') ctx.vary('Origin');

    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method') !== '') {
      if (!cors.has(origin)) {
        throw new HttpError(403, 'FORBIDDEN_ORIGIN', `Origin ${JSON.stringify(origin)} may not make cross-origin requests here`);
      }
      ctx.set('Access-Control-Allow-Methods', CORS_METHODS);
      ctx.set('Access-Control-Allow-Headers', CORS_HEADERS);
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }

    if (!SAFE_METHODS.has(ctx.method)) {
      if (origin !== '') {
        if (!isOwn && !writers.has(origin)) {
          throw new HttpError(403, 'FORBIDDEN_ORIGIN', `Origin ${JSON.stringify(origin)} may not change data on this server`);
        }
      } else {
        // No Origin (old browsers, some navigations): fall back to the fetch
        // metadata header when the browser sends it. Non-browser clients
        // (curl, tests, scripts) send neither and are allowed.
        const site = ctx.get('sec-fetch-site');
        if (site !== '' && site !== 'same-origin' && site !== 'none') {
          throw new HttpError(403, 'FORBIDDEN_ORIGIN', `A ${site} request may not change data on this server`);
        }
      }
    }
    await next();
  };
}
