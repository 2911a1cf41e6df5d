/**
 * The `mediastore` bin's migrate / export subcommands as a user runs them:
 * a child process, its report on stdout, its exit code (0 done, 1 some
 * project skipped, 2 bad arguments or a database it cannot use).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MigrationReport } from '../../storage-worker/migration/migration-report.js';
import { writeEditorDataDir } from '../fixtures/editor-data.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { snapshotTree } from './data-dir-snapshot.js';

const BIN = fileURLToPath(new URL('../../bin/mediastore.js', import.meta.url));

const test = suite('mediastore migrate / export (the bin)');
let server: TestPostgres;
const dirs: string[] = [];

test.before(async () => {
  server = await startTestPostgres('migration-cli');
});
test.after(async () => {
  for (const dir of dirs) await removeTempDir(dir);
  await server?.close();
});

function mediastore(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function tempDir(label: string): Promise<string> {
  const dir = await makeTempDir(label);
  dirs.push(dir);
  return dir;
}

const outcomes = (stdout: string) => (JSON.parse(stdout) as MigrationReport).projects.map((p) => `${p.folder}:${p.outcome}`).sort();

test('migrate, migrate again, export: exit 0, the report says what happened', async () => {
  const data = await tempDir('cli-from');
  await writeEditorDataDir(data);
  const url = await server.freshDatabase('cli');
  const first = await mediastore('migrate', '--from', data, '--to', url, '--json');
  assert.is(first.code, 0, first.stderr);
  assert.equal(outcomes(first.stdout), ['bakery-site:migrated', 'legacy-site:migrated', 'portfolio:migrated']);
  const second = await mediastore('migrate', '--from', data, '--to', url);
  assert.is(second.code, 0, second.stderr);
  assert.match(second.stdout, /3 projects: 0 migrated, 0 updated, 3 unchanged, 0 skipped/);

  const out = await tempDir('cli-to');
  const dry = await mediastore('export', '--from', url, '--to', out, '--dry-run', '--json');
  assert.is(dry.code, 0, dry.stderr);
  assert.equal(await snapshotTree(out), {});
  const exported = await mediastore('export', '--from', url, '--to', out, '--json');
  assert.is(exported.code, 0, exported.stderr);
  assert.equal(outcomes(exported.stdout), ['bakery-site:migrated', 'legacy-site:migrated', 'portfolio:migrated']);
});

test('a corrupt library: exit 1, reported with why; the others migrated', async () => {
  const data = await tempDir('cli-corrupt');
  const editor = await writeEditorDataDir(data);
  await writeFile(editor.bakery.mediaJson, '{ "files": [ { "id": ');
  const url = await server.freshDatabase('cli-corrupt');
  const run = await mediastore('migrate', '--from', data, '--to', url);
  assert.is(run.code, 1, run.stderr);
  assert.match(run.stdout, /skipped\s+3f9c2a71-5d0e-4b8a-9c61-2e7d4f1a8b03 \(bakery-site\).*corrupt media\.json/);
  assert.match(run.stdout, /2 migrated/);
});

test('bad arguments and an unreachable database: exit 2; --help: exit 0', async () => {
  const help = await mediastore('--help');
  assert.is(help.code, 0);
  assert.match(help.stdout, /mediastore migrate --from <dataDir> --to <postgres-url>/);
  const missing = await mediastore('migrate', '--from', '/nowhere');
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /needs --from and --to/);
  const notUrl = await mediastore('export', '--from', '/a/dir', '--to', '/b/dir');
  assert.is(notUrl.code, 2);
  assert.match(notUrl.stderr, /--from must be a postgres:\/\/ URL/);
  const noData = await mediastore('migrate', '--from', await tempDir('cli-empty'), '--to', await server.freshDatabase('cli-empty'));
  assert.is(noData.code, 2);
  assert.match(noData.stderr, /not a data directory/);
  const data = await tempDir('cli-down');
  await writeEditorDataDir(data);
  const down = await mediastore('migrate', '--from', data, '--to', 'postgres://mediastore@127.0.0.1:1/none');
  assert.is(down.code, 2);
  assert.match(down.stderr, /STORAGE_UNAVAILABLE/);
});

test.run();
