/**
 * Mounts Koa middleware (the media API, health, metrics) in an Express host:
 *
 *   app.use('/media', toExpress(media.api()));   // before any body parser
 *
 * The request goes to a small Koa app through `app.callback()`, Koa's own
 * way of serving a Node request. What the middleware does not answer (no
 * route of ours matched) goes back to Express with `next()`, so the host's
 * routes and its 404 still work behind it. Express strips the mount path from
 * `req.url`, so the Koa side is mounted without a prefix.
 *
 * Bodies: our routes read the raw request stream (JSON with depth and size
 * limits, multipart uploads streamed to disk). A body parser that ran first
 * has already consumed it, so mediastore is mounted before `express.json()`
 * and friends, or they are given only to the host's own routes.
 *
 * Typed with node:http only, so a host needs no Express types to use it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa, { type Middleware } from 'koa';

export type ExpressHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export function toExpress(middleware: Middleware<any>): ExpressHandler {
  const app = new Koa();
  const unanswered = new WeakSet<IncomingMessage>();
  app.use(async (ctx, next) => {
    // Express removed its mount path from req.url; the API still needs it for the links it answers with.
    ctx.state.mountPath = (ctx.req as IncomingMessage & { baseUrl?: string }).baseUrl ?? '';
    await next();
    // Nothing answered: no route of ours. Hand the untouched response back to Express.
    if (ctx.status === 404 && (ctx.body === undefined || ctx.body === null)) {
      ctx.respond = false;
      unanswered.add(ctx.req);
    }
  });
  app.use(middleware);
  // Koa prints errors it did not answer to stderr by default; ours are answered by the error responder.
  app.silent = true;
  const handle = app.callback();
  return (req, res, next) => {
    handle(req, res).then(
      () => {
        if (!unanswered.has(req)) return;
        // Koa starts every response as 404; Express expects Node's default.
        res.statusCode = 200;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}
