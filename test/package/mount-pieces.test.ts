/**
 * The mountable pieces in one Koa host, in process: the API under a prefix
 * beside the host's routes, with the opt-in guards applying to its routes
 * only, the host's limits, health and metrics where the host puts them.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startMediaStore, type MediaStore } from '../../mediastore.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const M = suite('mount pieces in a Koa host');

let dataDir: string;
let media: MediaStore;
let server: Server;
let base: string;

M.before(async () => {
  dataDir = await makeTempDir('mount-pieces');
  const quiet = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
  media = await startMediaStore({ dataDir, logger: quiet });
  const metrics = media.metrics();
  const app = new Koa();
  const router = new Router();
  router.get('/hello', (ctx) => {
    ctx.body = 'host';
  });
  router.get('/ops/metrics', metrics.route());
  app.use(metrics.middleware());
  app.use(router.routes());
  app.use(media.api({ prefix: '/m', guards: { allowedHosts: ['localhost'] }, limits: { jsonBodyLimit: 64 } }));
  app.use(media.health({ prefix: '/ops' }));
  server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

M.after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await media?.close();
  await removeTempDir(dataDir);
});

/** fetch cannot set Host: node:http can. */
async function get(path: string, host: string, json?: unknown): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  const headers: Record<string, string> = { host };
  if (json !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: json === undefined ? 'GET' : 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

M('the API answers under its prefix only', async () => {
  assert.is((await get('/m/api/projects', 'localhost')).status, 200);
  assert.is((await get('/api/projects', 'localhost')).status, 404);
});

M('a created project’s Location points under the prefix', async () => {
  const { request } = await import('node:http');
  const location = await new Promise<string | undefined>((resolve, reject) => {
    const req = request(`${base}/m/api/projects`, { method: 'POST', headers: { host: 'localhost', 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers.location));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ name: 'Here', id: 'here' }));
  });
  assert.is(location, '/m/api/projects/here');
});

M('the opt-in Host guard refuses a foreign Host on the API, not on the host’s own routes', async () => {
  const refused = await get('/m/api/projects', 'evil.example');
  assert.is(refused.status, 403);
  assert.is((JSON.parse(refused.body) as { code: string }).code, 'FORBIDDEN_HOST');
  assert.is((await get('/hello', 'evil.example')).status, 200);
});

M('the host’s limits apply (a JSON body over jsonBodyLimit is 413)', async () => {
  const res = await get('/m/api/projects', 'localhost', { name: 'x'.repeat(100) });
  assert.is(res.status, 413);
  assert.is((JSON.parse(res.body) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
});

M('health and metrics answer where the host mounted them', async () => {
  const health = await get('/ops/health', 'localhost');
  assert.is(health.status, 200);
  assert.is((JSON.parse(health.body) as { status: string }).status, 'ok');
  const metrics = await get('/ops/metrics', 'localhost');
  assert.is(metrics.status, 200);
  assert.match(metrics.body, /mediastore_http_request_duration_seconds/);
  assert.match(metrics.body, /mediastore_storage_/);
});

M.run();
