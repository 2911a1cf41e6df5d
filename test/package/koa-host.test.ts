/**
 * A Koa host adopts the packed package: npm pack, npm install of the tarball
 * into a scratch project, a strict TypeScript host compiled against the
 * package's declarations (test/package/hosts/koa-host.ts), mediastore
 * mounted under /media beside the host's routes. Pack, install and compile
 * happen once for the file (about 10–15 s of its run).
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { hostRoutesAndMediaRoutes, lockFiles, uploadSaveUsageConflict } from './adoption-scenario.js';
import { compileHost, installHost, packInto, run, startHost, stopHost, type RunningHost } from './packed-host.js';

const K = suite('a Koa host installs and mounts the packed package');

let scratch: string;
let dataDir: string;
let compiled: { ourErrors: string[] };
let host: RunningHost | undefined;
let hostDir: string;

K.before(async () => {
  scratch = await makeTempDir('koa-host');
  const tarball = await packInto(scratch);
  hostDir = join(scratch, 'host');
  await mkdir(hostDir);
  await installHost(hostDir, tarball, ['koa', '@koa/router', 'pino', '@types/koa', '@types/node@^20']);
  compiled = await compileHost(hostDir, 'koa-host');
  dataDir = join(scratch, 'data');
  await mkdir(dataDir);
  host = await startHost(hostDir, 'koa-host', dataDir);
});

K.after(async () => {
  if (host) await stopHost(host);
  await removeTempDir(scratch);
});

K('the strict TypeScript host type-checks against the declarations', () => {
  assert.equal(compiled.ourErrors, []);
});

K('the host’s routes and the media API under /media both answer', async () => {
  await hostRoutesAndMediaRoutes(host!, '/media', 'from the koa host');
});

K('upload, a page saved by the host’s handler, usage, 409 for a file in use', async () => {
  await uploadSaveUsageConflict(host!, '/media');
});

K('the host’s logger got the storage worker’s lines', () => {
  const opened = host!.stderr().split('\n').filter((l) => l.includes('"project opened"'));
  assert.ok(opened.length > 0, 'no "project opened" line in the host’s log');
  assert.match(opened[0]!, /"host":"koa-host"/);
});

K('SIGTERM: the host closes mediastore, which drains and releases every lock', async () => {
  const code = await stopHost(host!);
  assert.is(code, 0);
  assert.ok(host!.lines.some((l) => typeof l === 'object' && l !== null && 'closed' in l), 'no closed line');
  assert.equal(await lockFiles(dataDir), []);
  host = undefined;
});

K('the installed mediastore-doctor command checks the data dir the host wrote', async () => {
  const doctor = await run(join(hostDir, 'node_modules', '.bin', 'mediastore-doctor'), ['--data-dir', dataDir, '--json'], hostDir);
  assert.is(doctor.code, 0, doctor.stderr);
  const report = JSON.parse(doctor.stdout) as { problems: number; projects: Array<{ project: string; files: number }> };
  assert.is(report.problems, 0);
  assert.equal(report.projects.map((p) => [p.project, p.files]), [['site', 1]]);
});

K('the installed mediastore command serves the same data dir standalone and drains on SIGTERM', async () => {
  const server = spawn(join(hostDir, 'node_modules', '.bin', 'mediastore'), [], {
    cwd: hostDir,
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: server.stdout });
  const listening = await new Promise<{ address: string }>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`mediastore exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      if (entry.msg === 'listening' && entry.address) resolve({ address: entry.address });
    });
  });
  const usage = await fetch(`${listening.address}/api/media/projects/site/media`);
  assert.is(usage.status, 200);
  assert.is(((await usage.json()) as { files: unknown[] }).files.length, 1);
  const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  assert.is(await exited, 0);
  assert.equal(await lockFiles(dataDir), []);
});

K.run();
