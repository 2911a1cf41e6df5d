/**
 * The editor's HTTP API as a Koa application. `createApp` builds it without
 * listening, so tests (and the standalone server, server/main.ts) decide where it
 * runs and which data directory and storage client it uses.
 */
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import type { AppDeps } from './http/app-deps.js';
import type { AppState } from './http/app-state.js';
import { errorResponder } from './http/error-responder.js';
import { hostGuard } from './http/host-guard.js';
import { originGuard } from './http/origin-guard.js';
import { requestId } from './http/request-id.js';
import { registerApiRoutes } from './media-api.js';
import { healthRoutes } from './routes/health.js';

export type { AppDeps } from './http/app-deps.js';
export type { AppState } from './http/app-state.js';

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  const router = new Router<AppState>();
  healthRoutes(router, deps);
  registerApiRoutes(router, deps);
  if (deps.metricsRoute) router.get('/metrics', deps.metricsRoute);

  // The whole request path, outermost first. The observers (request log,
  // metrics) sit outside the error responder so they see the final status of
  // every request, errors and refusals included; the guards sit inside it so
  // their refusals get the common error shape.
  const middleware: Array<Middleware<AppState>> = [
    requestId,
    ...(deps.requestLog ? [deps.requestLog] : []),
    ...(deps.httpMetrics ? [deps.httpMetrics] : []),
    errorResponder(deps.logger),
    hostGuard(deps.config.allowedHosts),
    originGuard(deps.config),
    router.routes() as Middleware<AppState>,
    router.allowedMethods() as Middleware<AppState>,
  ];
  for (const m of middleware) app.use(m);

  // Errors Koa sees after a response has started (a client gone mid-stream):
  // into the structured log instead of Koa's default stderr print.
  app.on('error', (err: unknown, ctx?: Koa.ParameterizedContext<AppState>) => {
    deps.logger.warn({ err, requestId: ctx?.state.requestId }, 'response error');
  });
  return app;
}
