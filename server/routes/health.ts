/**
 * Liveness: this process answers (pid, uptime) and the storage worker
 * answers a ping within a short time. A worker that does not answer makes
 * the health 503 rather than hanging the probe.
 */
import { withDeadline } from '../../shared/deadline.js';
import { StorageError } from '../../shared/errors.js';
import type { AppRouter, RouteDeps } from '../http/app-deps.js';

const PING_TIMEOUT_MS = 2000;

export function healthRoutes(router: AppRouter, { storage }: Pick<RouteDeps, 'storage'>): void {
  router.get('/health', async (ctx) => {
    const base = { pid: process.pid, uptime: Math.round(process.uptime() * 1000) / 1000 };
    try {
      const ping = await withDeadline(storage.ping(), PING_TIMEOUT_MS, () => {
        throw new StorageError('STORAGE_UNAVAILABLE', `storage ping took longer than ${PING_TIMEOUT_MS} ms`);
      });
      ctx.body = { status: 'ok', ...base, storage: { ok: true, ...ping } };
    } catch (err) {
      const code = err instanceof StorageError ? err.code : 'STORAGE_UNAVAILABLE';
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { status: 'unavailable', error: 'The storage worker does not answer', code, ...base, storage: { ok: false, code } };
    }
  });
}
