/**
 * Gives every request an id, echoed in `X-Request-Id` and used in every log
 * line about it. A client-supplied id is kept only when it is short and plain,
 * so it cannot inject text into logs or headers.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { AppState } from './app-state.js';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestId: Middleware<AppState> = async function requestIdMiddleware(ctx, next) {
  const incoming = ctx.get('x-request-id');
  ctx.state.requestId = CLIENT_ID.test(incoming) ? incoming : randomUUID();
  ctx.set('X-Request-Id', ctx.state.requestId);
  await next();
};
