/**
 * Imports point inward. The storage worker's modules are its own: the server,
 * the client, the scripts, the bench, the command line and the package's
 * public entries reach the worker only through the contract in `shared/` (and
 * the client starts the worker by its entry file's path, a string for piscina,
 * not an import); the worker never imports the server or the client; `shared/`
 * imports only `shared/`; only tests import `test/`. A rule broken anywhere fails here with the file and
 * the specifier.
 *
 * One door: `disk-format.ts` re-exports the worker's parsers of its on-disk
 * formats for verifiers that must read the files themselves (the chaos
 * harness, after kill -9). Only scripts (and tests) may use it, and it may
 * hold re-exports only, so the door cannot grow logic of its own and every
 * format keeps one implementation.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importSpecifiers } from './import-specifiers.js';

const T = suite('import-rules');

/** The sources, not dist: this file runs from dist/test/layout. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The top folder (or public entry file) a repo-relative path belongs to. */
type Area = 'server' | 'client' | 'scripts' | 'bench' | 'bin' | 'storage-worker' | 'shared' | 'entry' | 'door' | 'test' | 'other';
const FOLDERS = ['server', 'client', 'scripts', 'bench', 'bin', 'storage-worker', 'shared'] as const;
const PUBLIC_ENTRIES = ['mediastore.ts', 'express.ts'];
const DOORS = ['disk-format.ts'];

/** Which areas each area may not import. Nothing but the tests imports the tests (a test helper may import anything, so it would be a way around every rule). */
const FORBIDDEN: Partial<Record<Area, readonly Area[]>> = {
  server: ['storage-worker', 'door', 'test'],
  client: ['storage-worker', 'door', 'test'],
  scripts: ['storage-worker', 'test'],
  bench: ['storage-worker', 'door', 'test'],
  bin: ['storage-worker', 'door', 'test'],
  entry: ['storage-worker', 'door', 'test'],
  door: ['test'],
  'storage-worker': ['server', 'client', 'test'],
  shared: ['server', 'client', 'scripts', 'bench', 'bin', 'storage-worker', 'entry', 'door', 'test', 'other'],
};

function areaOf(repoPath: string): Area {
  const [top] = repoPath.split('/');
  if (PUBLIC_ENTRIES.includes(repoPath)) return 'entry';
  if (DOORS.includes(repoPath)) return 'door';
  if (top === 'test') return 'test';
  return FOLDERS.find((f) => f === top) ?? 'other';
}

async function sourcesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourcesUnder(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every import of `file` (repo-relative) that breaks a rule, as `file → specifier (area)`. */
export function violationsOf(file: string, source: string): string[] {
  const forbidden = FORBIDDEN[areaOf(file)] ?? [];
  const out: string[] = [];
  for (const specifier of importSpecifiers(source)) {
    if (!specifier.startsWith('.')) continue; // node: built-ins and packages
    // Specifiers name the compiled `.js`; the source beside it is `.ts`.
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).split(sep).join('/').replace(/\.js$/, '.ts');
    const area = areaOf(target);
    if (forbidden.includes(area)) out.push(`${file} → ${specifier} (${area})`);
  }
  return out;
}

T('the specifier parser finds every import form and ignores comments and strings', () => {
  const source = [
    "import { a } from '../storage-worker/a.js';",
    "import type {\n  B,\n  C,\n} from './b.js';",
    "import './side-effect.js';",
    "export { d } from '../shared/d.js';",
    "export * from './e.js';",
    "const f = await import('./f.js');",
    "// import { g } from '../storage-worker/g.js';",
    "/** import { h } from '../storage-worker/h.js'; */",
    "const entry = new URL('../storage-worker/worker-entry.js', import.meta.url); // a path, not an import",
    "import sharp from 'sharp';",
  ].join('\n');
  assert.equal(importSpecifiers(source).sort(), ['../shared/d.js', '../storage-worker/a.js', './b.js', './e.js', './f.js', './side-effect.js', 'sharp'].sort());
});

T('a rule broken is reported with its file and specifier', () => {
  assert.equal(violationsOf('scripts/chaos-disk.ts', "import { x } from '../storage-worker/lock-stamp.js';"), [
    'scripts/chaos-disk.ts → ../storage-worker/lock-stamp.js (storage-worker)',
  ]);
  assert.equal(violationsOf('storage-worker/a.ts', "import type { Y } from '../server/http/app-deps.js';"), [
    'storage-worker/a.ts → ../server/http/app-deps.js (server)',
  ]);
  assert.equal(violationsOf('mediastore.ts', "export { Z } from './storage-worker/z.js';"), ['mediastore.ts → ./storage-worker/z.js (storage-worker)']);
  assert.equal(violationsOf('scripts/chaos-verify.ts', "import { r } from '../test/helpers/disk-usage.js';"), [
    'scripts/chaos-verify.ts → ../test/helpers/disk-usage.js (test)',
  ]);
  assert.equal(violationsOf('shared/a.ts', "import { q } from '../client/q.js';"), ['shared/a.ts → ../client/q.js (client)']);
  assert.equal(violationsOf('server/a.ts', "import { q } from '../shared/q.js';\nimport { r } from '../client/r.js';"), []);
  assert.equal(violationsOf('server/a.ts', "import { d } from '../disk-format.js';"), ['server/a.ts → ../disk-format.js (door)']);
  assert.equal(violationsOf('scripts/a.ts', "import { d } from '../disk-format.js';"), []);
  assert.equal(violationsOf('storage-worker/postgres/a.ts', "import { q } from '../file-backend.js';"), []);
});

T('the door to the worker holds re-exports and nothing else', async () => {
  for (const door of DOORS) {
    const code = (await readFile(join(ROOT, door), 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
    const statements = code.split(';').map((s) => s.trim()).filter((s) => s !== '');
    assert.ok(statements.length > 0, `${door} exports something`);
    for (const statement of statements) assert.match(statement, /^export (type )?\{[^}]*\} from '[^']+'$/, `${door}: ${statement}`);
  }
});

T('no source imports across a boundary it may not cross', async () => {
  const files = [...PUBLIC_ENTRIES, ...DOORS];
  for (const folder of FOLDERS) {
    const found = await sourcesUnder(folder);
    assert.ok(found.length > 0, `${folder}/ has sources`);
    files.push(...found);
  }
  const violations: string[] = [];
  for (const file of files) violations.push(...violationsOf(file, await readFile(join(ROOT, file), 'utf8')));
  assert.equal(violations, []);
});

T.run();
