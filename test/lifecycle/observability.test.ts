/**
 * Logs and metrics of the real server (a child process): one JSON line per
 * request with its id, route pattern, status and duration, one per commit;
 * LOG_LEVEL respected; `GET /metrics` in Prometheus text with the HTTP
 * histogram by route and status and the storage worker's numbers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { exitWithin, freePort, jsonRequest, killServer, startServer, type ServerProcess } from './server-process.js';

const Observability = suite('logs and metrics');

async function get(port: number, path: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** The value of one sample line, e.g. `name{a="b"} 3` → 3; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

Observability('one line per request and per commit, and /metrics with HTTP and storage families', async () => {
  const dir = await makeTempDir('observability');
  let server: ServerProcess | undefined;
  try {
    server = await startServer(dir);
    assert.is((await jsonRequest(server.port, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);
    const saved = await jsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', { widgets: [] });
    assert.is(saved.status, 200);
    assert.is((await jsonRequest(server.port, 'GET', '/api/projects/site/pages/nope')).status, 404);
    assert.is((await jsonRequest(server.port, 'GET', '/no/such/route')).status, 404);

    const requestId = String(saved.headers['x-request-id']);
    const line = await server.waitForLine((l) => l.msg === 'request' && l.reqId === requestId);
    assert.is(line.method, 'POST');
    assert.is(line.route, '/api/projects/:projectId/pages/:pageId/content');
    assert.is(line.status, 200);
    assert.type(line.durationMs, 'number');
    const notFound = await server.waitForLine((l) => l.msg === 'request' && l.status === 404 && l.route === '/api/projects/:projectId/pages/:pageId');
    assert.is(notFound.method, 'GET');
    // Unmatched paths share one label: raw URLs would make labels unbounded.
    await server.waitForLine((l) => l.msg === 'request' && l.route === 'unmatched');
    const commit = await server.waitForLine((l) => l.msg === 'commit' && l.project === 'site');
    for (const field of ['ops', 'bytes', 'ms', 'retries']) assert.type(commit[field], 'number', `commit line lacks ${field}`);

    const metrics = await get(server.port, '/metrics');
    assert.is(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    const text = metrics.text;
    const route = { method: 'POST', route: '/api/projects/:projectId/pages/:pageId/content', status: '200' };
    assert.is(sample(text, 'mediastore_http_request_duration_seconds_count', route), 1);
    assert.is(sample(text, 'mediastore_http_request_duration_seconds_bucket', { ...route, le: '+Inf' }), 1);
    assert.is(sample(text, 'mediastore_http_request_duration_seconds_count', { route: '/api/projects/:projectId/pages/:pageId', status: '404' }), 1);
    assert.is(sample(text, 'mediastore_storage_up'), 1);
    assert.ok(sample(text, 'mediastore_storage_commit_duration_seconds_count')! >= 2, 'commits not counted');
    assert.ok(sample(text, 'mediastore_storage_batch_size_bucket', { le: '+Inf' })! >= 2);
    assert.type(sample(text, 'mediastore_storage_lock_wait_seconds_count'), 'number');
    assert.is(sample(text, 'mediastore_storage_queue_depth'), 0);
    assert.is(sample(text, 'mediastore_storage_stale_lock_takeovers_total'), 0);
    assert.is(sample(text, 'mediastore_storage_worker_restarts_total'), 0);
    assert.match(text, /# TYPE mediastore_storage_retries_total counter/);
    assert.match(text, /# TYPE mediastore_storage_commit_duration_seconds histogram/);
    // Cumulative buckets never decrease.
    const buckets = [...text.matchAll(/^mediastore_storage_commit_duration_seconds_bucket\{le="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(buckets.length > 3 && buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!), `buckets ${buckets.join(',')}`);

    // The scrape itself is a request like any other.
    await server.waitForLine((l) => l.msg === 'request' && l.route === '/metrics');
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 5000), { code: 0, signal: null });
  } finally {
    await killServer(server);
    await removeTempDir(dir);
  }
});

Observability('LOG_LEVEL=warn: quiet on the happy path', async () => {
  const dir = await makeTempDir('observability-quiet');
  const port = await freePort();
  const entry = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'mediastore.js');
  const child = spawn(process.execPath, [entry], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir },
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  try {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await get(port, '/health').then(
        (r) => r.status === 200,
        () => false,
      );
      if (!up) await sleep(100);
    }
    assert.ok(up, 'server did not come up');
    assert.is((await jsonRequest(port, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);
    assert.is((await jsonRequest(port, 'POST', '/api/projects/site/pages/home/content', { widgets: [] })).status, 200);
    child.kill('SIGTERM');
    assert.is(await exited, 0);
    assert.equal(lines, [], `expected no log lines at warn, got:\n${lines.join('\n')}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await removeTempDir(dir);
  }
});

Observability.run();
