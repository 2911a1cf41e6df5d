/**
 * DNS-rebinding defence. A page on evil.example can make its own name resolve
 * to 127.0.0.1, and the browser then sends that page's requests here with
 * `Host: evil.example` — same-origin from the browser's point of view. Only
 * requests addressed to an allowed name (by default the loopback names, any
 * port) are served.
 */
import type { Middleware } from 'koa';
import { HttpError } from './http-error.js';
import type { AppState } from './app-state.js';

/** `localhost:3001` → `localhost`, `[::1]:3001` → `[::1]`; undefined when malformed. */
export function hostName(hostHeader: string): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(hostHeader.trim());
  return m?.[1]?.toLowerCase();
}

export function hostGuard(allowedHosts: readonly string[]): Middleware<AppState> {
  const anyHost = allowedHosts.includes('*');
  const allowed = new Set(allowedHosts);
  return async function hostGuardMiddleware(ctx, next) {
    if (!anyHost) {
      const header = ctx.get('host');
      const name = hostName(header);
      if (name === undefined || !allowed.has(name)) {
        throw new HttpError(403, 'FORBIDDEN_HOST', `Host ${JSON.stringify(header)} is not allowed; this server answers to ${[...allowed].join(', ')}`);
      }
    }
    await next();
  };
}
