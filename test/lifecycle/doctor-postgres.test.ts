/**
 * The doctor with the libraries in PostgreSQL (DATABASE_URL), as a child
 * process beside a live server process on the same database and blob dir:
 * it checks the database's records against the blob dir, reports records
 * whose bytes are missing (never deletes them), orphans, `.staged-*` files
 * and folders that belong to no project; with --fix it removes only what is
 * older than the safety age, and the live server, uploading all along,
 * loses nothing it acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { projectDirOf, projectsDirOf } from '../../shared/project-paths.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { raster } from '../fixtures/media-samples.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { call, killServer, startDatabaseServer, upload, type ServerProcess } from '../postgres-http/servers-on-one-database.js';
import { runDoctor } from './doctor-process.js';
import { exists } from '../../scripts/file-exists.js';

const test = suite('doctor with PostgreSQL');
let database: TestPostgres;
let blobDir: string;
let server: ServerProcess | undefined;

test.before(async () => {
  database = await startTestPostgres('doctor');
  blobDir = await makeTempDir('doctor-pg-blobs');
  server = await startDatabaseServer(blobDir, database.url);
});
test.after(async () => {
  await killServer(server);
  await database?.close();
  if (blobDir) await removeTempDir(blobDir);
});

const TWO_HOURS_AGO = new Date(Date.now() - 2 * 60 * 60 * 1000);

/** Writes a file (and its folders), every part of it aged two hours when `old`. */
async function plant(root: string, relative: string, old: boolean): Promise<string> {
  const path = join(root, relative);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, 'bytes');
  if (old) {
    const parts = relative.split('/');
    for (let i = parts.length; i > 0; i--) await utimes(join(root, ...parts.slice(0, i)), TWO_HOURS_AGO, TWO_HOURS_AGO);
  }
  return path;
}

async function uploadOne(name: string, seed: number): Promise<MediaRecord> {
  const res = await upload(server!, 'site', [{ filename: name, data: await raster('png', 200, 100, seed) }]);
  assert.is(res.status, 201, res.text);
  return (res.json.processedFiles as MediaRecord[])[0]!;
}

/** Every path an acknowledged record serves answers 200 from the live server. */
async function assertServed(records: readonly MediaRecord[]): Promise<void> {
  for (const rec of records) {
    for (const path of [rec.path, ...Object.values(rec.sizes).map((s) => s.path)]) {
      const res = await call(server!, 'GET', `/api/media/projects/site${path}`);
      assert.is(res.status, 200, `${path} of an acknowledged upload: ${res.status}`);
    }
  }
}

test('reports missing bytes, orphans, staged files and folders without a project; --fix removes only the old, beside a live server', async () => {
  const env = { DATABASE_URL: database.url };
  assert.is((await call(server!, 'POST', '/api/projects', { name: 'Site', id: 'site' })).status, 201);
  const kept = await uploadOne('photo.png', 1);
  const gone = await uploadOne('gone.png', 2);
  const images = join(projectDirOf(blobDir, 'site'), 'uploads', 'images');
  await unlink(join(images, gone.filename)); // a record whose original is lost

  await plant(images, 'old-orphan.png', true);
  await plant(images, 'new-orphan.png', false);
  const oldStaged = `.staged-${randomUUID()}.png`;
  const newStaged = `.staged-${randomUUID()}.png`;
  await plant(images, oldStaged, true);
  await plant(images, newStaged, false);
  const projects = projectsDirOf(blobDir);
  await plant(projects, 'ghost/uploads/images/x.png', true); // a deletion killed before its folder went
  await plant(projects, 'newborn/uploads/images/y.png', false); // too young to judge
  const halfRemoved = `.removing-old-${randomUUID()}`;
  await plant(projects, `${halfRemoved}/uploads/images/z.png`, false); // a deletion killed during the removal

  const check = await runDoctor(blobDir, [], env);
  assert.is(check.code, 1, check.out);
  assert.is(check.report.backend, 'postgres');
  const site = check.report.projects.find((p) => p.project === 'site')!;
  assert.is(site.files, 2);
  assert.equal(site.missing, [`${gone.filename}: ${gone.path}`]);
  assert.equal(site.orphans.map((o) => o.file).sort(), ['images/new-orphan.png', 'images/old-orphan.png']);
  assert.equal(site.staged.map((o) => o.file).sort(), [`images/${newStaged}`, `images/${oldStaged}`].sort());
  assert.equal(check.report.strayFolders.map((s) => `${s.folder}:${s.removal}`).sort(), [`projects/${halfRemoved}:true`, 'projects/ghost:false', 'projects/newborn:false']);
  // missing + old orphan + old staged + ghost + the half-done removal
  assert.is(check.report.problems, 5);
  for (const file of ['old-orphan.png', oldStaged]) assert.ok(await exists(join(images, file)), `a check without --fix removed ${file}`);
  assert.ok(await exists(join(projects, 'ghost')), 'a check without --fix removed a folder');

  // --fix while the live server keeps taking uploads: some are acknowledged while the doctor runs.
  let doctorExited = false;
  const acknowledged: MediaRecord[] = [];
  let whileDoctorRan = 0;
  const uploads = (async () => {
    for (let i = 0; !doctorExited || acknowledged.length < 2; i++) {
      acknowledged.push(await uploadOne('live.png', 100 + i));
      if (!doctorExited) whileDoctorRan++;
    }
  })();
  const fixed = await runDoctor(blobDir, ['--fix'], env).finally(() => (doctorExited = true));
  await uploads;
  console.log(`  live uploads: ${whileDoctorRan} acknowledged while the doctor ran, ${acknowledged.length} in all`);
  assert.ok(whileDoctorRan >= 1, 'the live server took an upload while the doctor ran');

  const after = fixed.report.projects.find((p) => p.project === 'site')!;
  assert.equal(after.orphans.map((o) => `${o.file}:${o.removed}`).sort(), ['images/new-orphan.png:false', 'images/old-orphan.png:true']);
  const planted = new Set([`images/${newStaged}`, `images/${oldStaged}`]);
  assert.equal(after.staged.filter((o) => planted.has(o.file)).map((o) => `${o.file}:${o.removed}`).sort(), [`images/${newStaged}:false`, `images/${oldStaged}:true`].sort());
  // The others are the live server's uploads in progress, seen mid-way: listed, never removed.
  assert.ok(after.staged.every((o) => planted.has(o.file) || !o.removed), "a live upload's staged file was removed");
  assert.ok(after.usageRebuilt, 'usage not rebuilt');
  assert.not.ok(await exists(join(images, 'old-orphan.png')));
  assert.not.ok(await exists(join(images, oldStaged)));
  assert.ok(await exists(join(images, 'new-orphan.png')), 'a young orphan was removed');
  assert.ok(await exists(join(images, newStaged)), 'a young staged file (an upload in progress) was removed');
  assert.equal(fixed.report.strayFolders.map((s) => `${s.folder}:${s.removed}`).sort(), [`projects/${halfRemoved}:true`, 'projects/ghost:true', 'projects/newborn:false']);
  assert.not.ok(await exists(join(projects, 'ghost')));
  assert.not.ok(await exists(join(projects, halfRemoved)));
  assert.ok(await exists(join(projects, 'newborn')), 'a young folder was removed');

  // Nothing acknowledged was lost, and the record with missing bytes is still there (reported, not "repaired").
  await assertServed([kept, ...acknowledged]);
  const listed = (await call(server!, 'GET', '/api/media/projects/site/media')).json.files as MediaRecord[];
  assert.ok(listed.some((r) => r.id === gone.id), 'the doctor deleted a record');
  assert.is(fixed.code, 1);
  assert.is(fixed.report.problems, 1, fixed.out);
});

test('a database it cannot reach: exit 2 with the stable code, no stack trace', async () => {
  const dir = await makeTempDir('doctor-no-db');
  try {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const failure = await runDoctor(dir, ['--database-url', 'postgres://postgres@127.0.0.1:1/none']).then(
      () => null,
      (err: Error) => err.message,
    );
    assert.ok(failure !== null, 'the doctor printed a report although it could not reach the database');
    assert.match(failure, /\(exit 2\)/);
    assert.match(failure, /doctor failed: STORAGE_UNAVAILABLE: /);
    assert.not.match(failure, /\n\s+at /, 'an operator-facing refusal prints no stack trace');
  } finally {
    await removeTempDir(dir);
  }
});

test.run();
