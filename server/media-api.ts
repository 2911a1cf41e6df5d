/**
 * The media API as one Koa middleware a host mounts beside its own routes,
 * under any prefix. It answers only paths it has a route for; everything
 * else — the host's routes, its 404s — passes through untouched. Its request
 * id and error shape apply to its own routes only, and so do the guards when
 * the host asks for them (a host usually has its own).
 *
 * The standalone server (server/app.ts) mounts the same routes at the root
 * with the guards, health and metrics around them.
 */
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { DEFAULT_HTTP_LIMITS, type GuardPolicy, type HttpLimits } from './config.js';
import type { RouteDeps } from './http/app-deps.js';
import type { AppState } from './http/app-state.js';
import { errorResponder } from './http/error-responder.js';
import { hostGuard } from './http/host-guard.js';
import { originGuard } from './http/origin-guard.js';
import { requestId } from './http/request-id.js';
import { contentRoutes } from './routes/content.js';
import { mediaFileRoutes } from './routes/media-files.js';
import { mediaRoutes } from './routes/media.js';
import { projectRoutes } from './routes/projects.js';

export interface MediaApiOptions {
  /** where the API lives, e.g. `/media` (routes are `<prefix>/api/projects`, …); default: the root */
  prefix?: string;
  /** body and upload limits; each one left out keeps its default (DEFAULT_HTTP_LIMITS) */
  limits?: Partial<HttpLimits>;
  /**
   * Host/Origin checks on these routes (DNS rebinding, cross-site writes), for
   * a host that does not check them itself. Off unless given.
   */
  guards?: Partial<GuardPolicy>;
}

/** Every piece of the API's route table, in the order the standalone app registers them. */
export function registerApiRoutes(router: Router<AppState>, deps: RouteDeps): void {
  projectRoutes(router, deps);
  contentRoutes(router, deps);
  mediaRoutes(router, deps);
  mediaFileRoutes(router, deps);
}

export function mediaApi(deps: Omit<RouteDeps, 'config'>, options: MediaApiOptions = {}): Middleware<AppState> {
  const config: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const router = options.prefix ? new Router<AppState>({ prefix: options.prefix }) : new Router<AppState>();
  // Router-level middleware runs only when one of this router's routes matched.
  router.use(requestId, errorResponder(deps.logger));
  if (options.guards) {
    router.use(
      hostGuard(options.guards.allowedHosts ?? ['*']),
      originGuard({ allowedOrigins: options.guards.allowedOrigins ?? [], corsOrigins: options.guards.corsOrigins ?? [] }),
    );
  }
  registerApiRoutes(router, { ...deps, config });
  const routes = router.routes() as Middleware<AppState>;
  const allowedMethods = router.allowedMethods() as Middleware<AppState>;
  // routes, then (when none answered) the 405 check, then the host's next middleware.
  return (ctx, next) => routes(ctx, () => allowedMethods(ctx, next));
}
