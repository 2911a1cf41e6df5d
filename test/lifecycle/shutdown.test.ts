/**
 * Graceful shutdown of the real server (a child process) under real signals:
 * the port is freed at once, requests in flight finish and are durable, locks
 * are released, SIGUSR2 is re-raised for nodemon, and a second signal or the
 * deadline forces the exit and says what was abandoned.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, createServer } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { request as httpRequest, Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { REPEAT_GRACE_MS } from '../../server/shutdown.js';
import { exitWithin, jsonRequest, killServer, slowJsonRequest, startServer, type ServerProcess } from './server-process.js';

const Shutdown = suite('graceful shutdown');

interface Ctx {
  dir: string;
  server?: ServerProcess;
}

async function withServer(env: NodeJS.ProcessEnv, fn: (ctx: Ctx & { server: ServerProcess }) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('shutdown');
  let server: ServerProcess | undefined;
  try {
    // debug: the 'request received' line tells when a slow request has reached the app.
    server = await startServer(dir, { LOG_LEVEL: 'debug', ...env });
    const created = await jsonRequest(server.port, 'POST', '/api/projects', { name: 'Site', id: 'site' });
    assert.is(created.status, 201);
    await fn({ dir, server });
  } finally {
    await killServer(server);
    await removeTempDir(dir);
  }
}

function page(n: number): unknown {
  return { widgets: [{ type: 'text', settings: { html: `<p>version ${n}</p>` }, blocks: [] }], seo: { title: `v${n}` } };
}

/** Waits until the app has begun handling a request to `url` (its debug line). */
async function received(server: ServerProcess, url: string): Promise<void> {
  await server.waitForLine((l) => l.msg === 'request received' && l.url === url);
}

/** Connecting to the port is refused (nobody listens any more). */
async function refused(port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      res(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => res(err.code === 'ECONNREFUSED'));
  });
}

async function lockFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.lock') || e.includes('.lock.break.'));
}

Shutdown('SIGTERM: port free at once, the request in flight finishes and is durable, locks released, exit 0', async () => {
  await withServer({}, async ({ dir, server }) => {
    // Acknowledged before the signal: must survive too.
    const before = await jsonRequest(server.port, 'POST', '/api/projects/site/pages/about/content', page(1));
    assert.is(before.status, 200);

    const slow = slowJsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(2));
    await received(server, '/api/projects/site/pages/home/content'); // the app has the headers and is reading the body
    server.child.kill('SIGTERM');
    await server.waitForLine((l) => l.msg === 'shutting down: no longer accepting connections');

    // The listening socket is closed before anything else: a successor can bind now.
    assert.ok(await refused(server.port), 'port still accepting connections');
    const successor = createServer();
    await new Promise<void>((res, rej) => {
      successor.once('error', rej);
      successor.listen(server.port, '127.0.0.1', () => res());
    });
    await new Promise<void>((res) => successor.close(() => res()));
    assert.is(server.child.exitCode, null, 'the server must still be waiting for its request');

    slow.finish();
    const answer = await slow.answer;
    assert.is(answer.status, 200, answer.body);
    assert.is(answer.headers.connection, 'close');

    const exit = await exitWithin(server, 5000);
    assert.equal(exit, { code: 0, signal: null });
    const shutting = server.lines.find((l) => l.msg === 'shutting down: no longer accepting connections');
    assert.is(shutting?.inFlight, 1);
    assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly'));

    // Durable: read straight from disk after the process is gone.
    const home = JSON.parse(await readFile(join(dir, 'projects/site/pages/home.json'), 'utf8')) as unknown;
    assert.equal(home, page(2));
    const about = JSON.parse(await readFile(join(dir, 'projects/site/pages/about.json'), 'utf8')) as unknown;
    assert.equal(about, page(1));
    parseMediaDocument(await readFile(join(dir, 'projects/site/uploads/media.json'), 'utf8'));
    assert.equal(await lockFiles(dir), []);
  });
});

Shutdown('SIGUSR2: drains, then dies by SIGUSR2 again (nodemon waits for exactly that)', async () => {
  await withServer({}, async ({ server }) => {
    const slow = slowJsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(3));
    await received(server, '/api/projects/site/pages/home/content');
    server.child.kill('SIGUSR2');
    await server.waitForLine((l) => l.msg === 'shutting down: no longer accepting connections');
    slow.finish();
    assert.is((await slow.answer).status, 200);
    const exit = await exitWithin(server, 5000);
    assert.equal(exit, { code: null, signal: 'SIGUSR2' });
    assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly' && l.signal === 'SIGUSR2'));
  });
});

Shutdown('repeats of the signal right after the first (nodemon sends SIGUSR2 twice) do not cut the drain short', async () => {
  await withServer({}, async ({ dir, server }) => {
    const slow = slowJsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(8));
    await received(server, '/api/projects/site/pages/home/content');
    server.child.kill('SIGUSR2');
    await server.waitForLine((l) => l.msg === 'shutting down: no longer accepting connections');
    server.child.kill('SIGUSR2');
    server.child.kill('SIGINT');
    await server.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('repeated stop signal'));
    slow.finish();
    assert.is((await slow.answer).status, 200);
    assert.equal(await exitWithin(server, 5000), { code: null, signal: 'SIGUSR2' });
    assert.not.ok(server.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('forced exit')));
    assert.equal(JSON.parse(await readFile(join(dir, 'projects/site/pages/home.json'), 'utf8')), page(8));
  });
});

for (const signal of ['SIGINT', 'SIGHUP'] as const) {
  Shutdown(`${signal}: drains and exits 0`, async () => {
    await withServer({}, async ({ dir, server }) => {
      const saved = await jsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(4));
      assert.is(saved.status, 200);
      server.child.kill(signal);
      assert.equal(await exitWithin(server, 5000), { code: 0, signal: null });
      assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly' && l.signal === signal));
      assert.equal(await lockFiles(dir), []);
    });
  });
}

Shutdown('a second signal forces the exit and logs the abandoned request', async () => {
  await withServer({}, async ({ dir, server }) => {
    const saved = await jsonRequest(server.port, 'POST', '/api/projects/site/pages/about/content', page(5));
    assert.is(saved.status, 200);
    const slow = slowJsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(6));
    await received(server, '/api/projects/site/pages/home/content');
    server.child.kill('SIGTERM');
    await server.waitForLine((l) => l.msg === 'shutting down: no longer accepting connections');
    // Past the grace period for repeats of the first signal.
    await sleep(REPEAT_GRACE_MS + 100);
    assert.is(server.child.exitCode, null, 'the first signal alone must wait for the request');
    const started = Date.now();
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 3000), { code: 1, signal: null });
    assert.ok(Date.now() - started < 2000, 'forced exit took too long');
    const forced = server.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('forced exit'));
    assert.ok(forced, 'no forced-exit line');
    assert.match(String(forced.reason), /second signal SIGTERM/);
    const abandoned = forced.abandoned as { requests: Array<{ method: string; url: string }>; storageClose: string };
    assert.equal(abandoned.requests.map((r) => `${r.method} ${r.url}`), ['POST /api/projects/site/pages/home/content']);
    assert.is(abandoned.storageClose, 'not started');
    // What was acknowledged is on disk; what was abandoned never was acknowledged.
    assert.equal(JSON.parse(await readFile(join(dir, 'projects/site/pages/about.json'), 'utf8')), page(5));
    slow.abort();
  });
});

Shutdown('the deadline forces the exit when a request never finishes', async () => {
  await withServer({ SHUTDOWN_DEADLINE_MS: '400' }, async ({ server }) => {
    const slow = slowJsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', page(7));
    await received(server, '/api/projects/site/pages/home/content');
    const started = Date.now();
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 5000), { code: 1, signal: null });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 350 && elapsed < 3000, `exit after ${elapsed} ms`);
    const forced = server.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('forced exit'));
    assert.match(String(forced?.reason), /deadline of 400 ms/);
    slow.abort();
  });
});

Shutdown('idle keep-alive connections do not hold up the exit', async () => {
  await withServer({}, async ({ server }) => {
    const agent = new Agent({ keepAlive: true });
    try {
      await new Promise<void>((res, rej) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/health', agent }, (r) => {
          r.resume();
          r.on('end', () => res());
        });
        req.on('error', rej);
        req.end();
      });
      const started = Date.now();
      server.child.kill('SIGTERM');
      assert.equal(await exitWithin(server, 4000), { code: 0, signal: null });
      // Node's keep-alive timeout is 5 s: an exit well before it means the idle socket was closed.
      assert.ok(Date.now() - started < 2000, `exit took ${Date.now() - started} ms`);
    } finally {
      agent.destroy();
    }
  });
});

Shutdown.run();
