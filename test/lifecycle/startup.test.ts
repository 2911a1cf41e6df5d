/**
 * Start-up of the real server (a child process): leftovers of dead processes
 * are swept, a corrupt media.json is quarantined and restored from its
 * backup, and a lock held by a live process is waited for no longer than the
 * lock timeout and reported with who holds it — all in the one start-up line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageClient } from '../../client/storage-client.js';
import { makeStamp, serializeStamp } from '../../storage-worker/lock-stamp.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { exitWithin, jsonRequest, killServer, startServer, type LogLine, type ServerProcess } from './server-process.js';

const Startup = suite('start-up');

/** A pid that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((res) => child.once('exit', res));
  return child.pid!;
}

async function makeProject(dir: string, files = 0): Promise<void> {
  const storage = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
  try {
    await storage.createProject({ name: 'Site', id: 'site' });
    if (files > 0) await storage.addMedia('site', makeImageRecords(files));
  } finally {
    await storage.close();
  }
}

function startupOf(server: ServerProcess): { projects: number; files: number; problems: Array<Record<string, unknown>> } {
  const line = server.lines.find((l) => l.msg === 'listening') as LogLine & { startup: ReturnType<typeof startupOf> };
  return line.startup;
}

Startup('temp and lock files of dead processes are swept; the start-up line says what was found', async () => {
  const dir = await makeTempDir('startup-sweep');
  let server: ServerProcess | undefined;
  try {
    await makeProject(dir, 2);
    const pid = await deadPid();
    const uploads = join(dir, 'projects/site/uploads');
    const leftovers = [
      join(uploads, `media.json.tmp.${pid}.1.7.0badc0de`),
      join(dir, `projects/site/pages/home.json.tmp.${pid}.1.8.0badc0df`),
    ];
    const old = new Date(Date.now() - 60_000);
    for (const f of leftovers) {
      await writeFile(f, '{"half":');
      await utimes(f, old, old);
    }
    await writeFile(join(uploads, 'media.json.lock'), serializeStamp({ ...makeStamp(), pid, startTime: null }));

    server = await startServer(dir);
    const startup = startupOf(server);
    assert.equal({ projects: startup.projects, files: startup.files, problems: startup.problems }, { projects: 1, files: 2, problems: [] });
    const swept = server.lines.find((l) => l.msg === 'removed leftovers of dead processes');
    assert.ok(swept, 'no sweep line');
    assert.is((swept.removedTemps as string[]).length, 2);
    assert.equal(swept.removedLocks, ['media.json.lock']);
    const remaining = await readdir(dir, { recursive: true });
    assert.equal(remaining.filter((f) => f.includes('.tmp.') || f.endsWith('.lock')), []);

    // And the project works: a write takes the lock the dead process left.
    const saved = await jsonRequest(server.port, 'POST', '/api/projects/site/pages/home/content', { widgets: [] });
    assert.is(saved.status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 5000), { code: 0, signal: null });
  } finally {
    await killServer(server);
    await removeTempDir(dir);
  }
});

Startup('a corrupt media.json is quarantined and the last good version restored before the first request', async () => {
  const dir = await makeTempDir('startup-corrupt');
  let server: ServerProcess | undefined;
  try {
    await makeProject(dir, 1);
    const storage = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    await storage.addMedia('site', makeImageRecords(1, 'second')); // media.json.bak now holds the one-file version
    await storage.close();
    const media = join(dir, 'projects/site/uploads/media.json');
    await writeFile(media, '{"files": [{"id": "x", "filen');

    server = await startServer(dir);
    const startup = startupOf(server);
    assert.equal(startup.problems, []);
    assert.is(startup.files, 1, 'the backup (one file) should have been restored');
    const uploads = await readdir(join(dir, 'projects/site/uploads'));
    assert.is(uploads.filter((f) => f.startsWith('media.json.corrupt-')).length, 1, `quarantine missing: ${uploads.join(', ')}`);
    const listed = await jsonRequest(server.port, 'GET', '/api/media/projects/site/media');
    assert.is((listed.body as { files: unknown[] }).files.length, 1);
    assert.equal(listed.body, JSON.parse(await readFile(media, 'utf8')));
  } finally {
    await killServer(server);
    await removeTempDir(dir);
  }
});

Startup('a live process holding the lock: start-up waits at most the lock timeout and names the holder', async () => {
  const dir = await makeTempDir('startup-locked');
  let server: ServerProcess | undefined;
  try {
    await makeProject(dir, 1);
    const uploads = join(dir, 'projects/site/uploads');
    // Recovery of a corrupt file needs the lock, and this (live) test process holds it.
    await writeFile(join(uploads, 'media.json'), 'not json');
    await writeFile(join(uploads, 'media.json.lock'), serializeStamp(makeStamp()));

    const started = Date.now();
    server = await startServer(dir);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 9000, `start-up took ${elapsed} ms`);
    const [problem] = startupOf(server).problems;
    assert.ok(problem, 'no problem reported');
    assert.is(problem.project, 'site');
    assert.is(problem.code, 'LOCK_TIMEOUT');
    assert.match(String(problem.message), new RegExp(`locked by pid ${process.pid}\\b`));
    assert.is((problem.details as { holder: { pid: number } }).holder.pid, process.pid);

    // Once the holder lets go, the project recovers on its next use.
    await rm(join(uploads, 'media.json.lock'));
    const listed = await jsonRequest(server.port, 'GET', '/api/media/projects/site/media');
    assert.is(listed.status, 200, JSON.stringify(listed.body));
  } finally {
    await killServer(server);
    await removeTempDir(dir);
  }
});

Startup.run();
