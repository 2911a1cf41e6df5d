/**
 * mediastore migrate / export on the editor's own data directory
 * (test/fixtures/editor-data.ts) and a real PostgreSQL: files → PostgreSQL →
 * files gives the same documents; a second run changes nothing; a change in
 * the files is carried, one on both sides is refused; a dry run writes
 * nothing; a corrupt library is skipped and reported, never repaired.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileBackend } from '../../storage-worker/file-backend.js';
import { exportToFiles } from '../../storage-worker/migration/export-to-files.js';
import { migrateToPostgres } from '../../storage-worker/migration/migrate-to-postgres.js';
import type { MigrationReport } from '../../storage-worker/migration/migration-report.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { BAKERY_ID, PORTFOLIO_ID, writeEditorDataDir, type EditorDataDir } from '../fixtures/editor-data.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { saveContent } from '../helpers/content-saves.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { snapshotTree } from './data-dir-snapshot.js';

const test = suite('migrate / export between files and PostgreSQL');
let server: TestPostgres;
const cleanups: Array<() => Promise<void>> = [];

test.before(async () => {
  server = await startTestPostgres('migration');
});
test.after.each(async () => {
  for (const clean of cleanups.splice(0)) await clean();
});
test.after(async () => {
  await server?.close();
});

async function editorData(): Promise<{ dataDir: string; editor: EditorDataDir }> {
  const dataDir = await makeTempDir('migrate-from');
  cleanups.push(() => removeTempDir(dataDir));
  return { dataDir, editor: await writeEditorDataDir(dataDir) };
}

async function freshDir(label: string): Promise<string> {
  const dir = await makeTempDir(label);
  cleanups.push(() => removeTempDir(dir));
  return dir;
}

const outcomes = (report: MigrationReport) => Object.fromEntries(report.projects.map((p) => [p.folder, p.outcome]));

/** Every row of the tables migrate writes, with xmin: a row rewritten with the same values still shows. */
async function databaseRows(url: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: unknown[] = [];
    for (const table of ['projects', 'media', 'media_paths', 'usage', 'content', 'file_migrations']) {
      const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
      if (!exists.rows[0]?.t) continue;
      const { rows } = await client.query(`SELECT xmin::text AS xmin, to_json(t)::text AS row FROM ${table} t ORDER BY 2`);
      out.push(table, rows);
    }
    return out;
  } finally {
    await client.end();
  }
}

async function sqlOne<T>(url: string, sql: string, params: unknown[] = []): Promise<T | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows[0] as T | undefined;
  } finally {
    await client.end();
  }
}

const text = (path: string) => readFile(path, 'utf8');
const parsed = async (path: string) => JSON.parse(await text(path)) as unknown;

test('the editor\'s data directory → PostgreSQL → a fresh directory: the same documents, byte for byte', readable(async () => {
  const { dataDir, editor } = await editorData();
  const url = await server.freshDatabase('round-trip');
  const migrated = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(outcomes(migrated), { 'bakery-site': 'migrated', portfolio: 'migrated', 'legacy-site': 'migrated' });
  const bakery = migrated.projects.find((p) => p.id === BAKERY_ID);
  assert.equal({ records: bakery?.records, pages: bakery?.pages, globals: bakery?.globals, theme: bakery?.theme }, { records: 7, pages: 2, globals: 2, theme: 1 });

  // The PostgreSQL backend serves what the files held: UUID and folder, every record as stored.
  const backend = await PostgresBackend.open({ databaseUrl: url });
  try {
    const info = await backend.getProject('bakery-site');
    assert.equal([info.id, info.folder, info.name], [BAKERY_ID, 'bakery-site', 'Bakery']);
    const served = (await (await backend.library(BAKERY_ID)).read()).doc;
    assert.is(JSON.stringify(served, null, 2), await text(editor.bakery.mediaJson), 'records kept whole: key order, usedIn in place, unknown fields');
    assert.equal(await (await backend.library(BAKERY_ID)).readContent('about'), await parsed(join(editor.bakery.dir, 'pages', 'about.json')));
  } finally {
    await backend.drain();
  }

  const out = await freshDir('export-to');
  const exported = await exportToFiles({ databaseUrl: url, to: out, dryRun: false });
  assert.equal(outcomes(exported), { 'bakery-site': 'migrated', portfolio: 'migrated', 'legacy-site': 'migrated' });
  for (const project of editor.projects) {
    const back = join(out, 'projects', project.folderName);
    assert.is(await text(join(back, 'uploads', 'media.json')), await text(project.mediaJson), `${project.folderName}: media.json`);
    assert.equal(await parsed(join(back, 'uploads', 'media.json')), await parsed(project.mediaJson));
    for (const file of [...project.pages.map((p) => join('pages', `${p}.json`)), ...(project === editor.bakery ? ['pages/global/header.json', 'pages/global/footer.json'] : [])]) {
      assert.equal(await parsed(join(back, file)), await parsed(join(project.dir, file)), `${project.folderName}: ${file}`);
    }
    if (project !== editor.legacy) assert.equal(await parsed(join(back, 'theme.json')), await parsed(join(project.dir, 'theme.json')));
    // Binaries are not moved: they stay where the server keeps them.
    for (const file of Object.values(project.media).flatMap((m) => m.files)) {
      assert.not.ok((await snapshotTree(join(back, 'uploads')))[file], `${file} is not copied`);
    }
  }
  const entries = (doc: unknown) => (doc as { projects: unknown[] }).projects;
  assert.equal(entries(await parsed(join(out, 'projects', 'projects.json'))), entries(await parsed(editor.projectsJson)), 'projects.json entries, every field');

  // The file backend opens the export as it opened the editor's directory.
  const files = new FileBackend({ dataDir: out });
  try {
    const listed = (await files.listProjects()).map((p) => [p.id, p.folder, p.name]);
    assert.equal(listed.sort(), [[BAKERY_ID, 'bakery-site', 'Bakery'], [PORTFOLIO_ID, 'portfolio', 'Portfolio'], ['legacy-site', 'legacy-site', 'legacy-site']].sort());
  } finally {
    await files.drain();
  }
}));

test('a second migrate changes nothing; a second export too', readable(async () => {
  const { dataDir } = await editorData();
  const url = await server.freshDatabase('idempotent');
  await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  const rows = await databaseRows(url);
  const again = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(outcomes(again), { 'bakery-site': 'unchanged', portfolio: 'unchanged', 'legacy-site': 'unchanged' });
  assert.equal(await databaseRows(url), rows, 'no row written (xmin unchanged)');

  const out = await freshDir('export-twice');
  await exportToFiles({ databaseUrl: url, to: out, dryRun: false });
  const tree = await snapshotTree(out);
  const second = await exportToFiles({ databaseUrl: url, to: out, dryRun: false });
  assert.equal(outcomes(second), { 'bakery-site': 'unchanged', portfolio: 'unchanged', 'legacy-site': 'unchanged' });
  assert.equal(await snapshotTree(out), tree);
}));

test('a project changed in the files is updated; changed on both sides it is skipped, neither overwritten', readable(async () => {
  const { dataDir, editor } = await editorData();
  const url = await server.freshDatabase('changed');
  await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });

  // The editor edits a caption in its file.
  const doc = JSON.parse(await text(editor.bakery.mediaJson)) as { files: Array<{ metadata: { alt: string } }> };
  doc.files[0]!.metadata.alt = 'edited in the editor';
  await writeFile(editor.bakery.mediaJson, JSON.stringify(doc, null, 2));
  const updated = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(outcomes(updated), { 'bakery-site': 'updated', portfolio: 'unchanged', 'legacy-site': 'unchanged' });
  const backend = await PostgresBackend.open({ databaseUrl: url });
  try {
    assert.is((await (await backend.library(BAKERY_ID)).getMedia(editor.bakery.media.hero!.id)).metadata.alt, 'edited in the editor');

    // A server on PostgreSQL edits the portfolio: the files did not change, so a run keeps that edit.
    await (await backend.library(PORTFOLIO_ID)).updateMetadata(editor.portfolio.media.shot!.id, { alt: 'edited in PostgreSQL' });
    assert.is(outcomes(await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false })).portfolio, 'unchanged');
    // Now the files change too: both sides have news.
    await mkdir(join(editor.portfolio.dir, 'pages'), { recursive: true });
    await writeFile(join(editor.portfolio.dir, 'pages', 'new.json'), JSON.stringify({ name: 'New' }, null, 2));
    const rows = await databaseRows(url);
    const both = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
    assert.is(outcomes(both).portfolio, 'skipped');
    assert.match(both.projects.find((p) => p.folder === 'portfolio')?.reason ?? '', /changed in PostgreSQL since it was migrated/);
    assert.equal(await databaseRows(url), rows);
    assert.is((await (await backend.library(PORTFOLIO_ID)).getMedia(editor.portfolio.media.shot!.id)).metadata.alt, 'edited in PostgreSQL');
  } finally {
    await backend.drain();
  }
}));

test('a dry run writes nothing: not the schema, not a row, not a byte of either directory', readable(async () => {
  const { dataDir, editor } = await editorData();
  const url = await server.freshDatabase('dry-run');
  const source = await snapshotTree(dataDir);
  const dry = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: true });
  assert.ok(dry.dryRun);
  assert.equal(outcomes(dry), { 'bakery-site': 'migrated', portfolio: 'migrated', 'legacy-site': 'migrated' });
  assert.is((await sqlOne<{ t: string | null }>(url, "SELECT to_regclass('schema_migrations')::text AS t"))?.t, null, 'no schema made');

  await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(await snapshotTree(dataDir), source, 'migrate never writes the editor\'s files');
  await writeFile(join(editor.bakery.dir, 'theme.json'), JSON.stringify({ colors: { primary: '#000' } }, null, 2));
  const rows = await databaseRows(url);
  const dryUpdate = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: true });
  assert.is(outcomes(dryUpdate)['bakery-site'], 'updated', 'reports what the run would do');
  assert.equal(await databaseRows(url), rows);

  const out = await freshDir('export-dry');
  const dryExport = await exportToFiles({ databaseUrl: url, to: out, dryRun: true });
  assert.equal(outcomes(dryExport), { 'bakery-site': 'migrated', portfolio: 'migrated', 'legacy-site': 'migrated' });
  assert.equal(await snapshotTree(out), {});
}));

test('a corrupt media.json is reported and skipped, the file left as it was; the other projects go on', readable(async () => {
  const { dataDir, editor } = await editorData();
  const url = await server.freshDatabase('corrupt');
  const corrupt = (await text(editor.portfolio.mediaJson)).slice(0, 40);
  await writeFile(editor.portfolio.mediaJson, corrupt);
  // A good backup beside it: opening the library would restore it ("repair"); a migration must not.
  await writeFile(`${editor.portfolio.mediaJson}.bak`, JSON.stringify({ files: [] }, null, 2));
  const before = await snapshotTree(editor.portfolio.dir);
  const report = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(outcomes(report), { 'bakery-site': 'migrated', portfolio: 'skipped', 'legacy-site': 'migrated' });
  assert.match(report.projects.find((p) => p.folder === 'portfolio')?.reason ?? '', /corrupt media\.json/);
  assert.equal(await snapshotTree(editor.portfolio.dir), before, 'not quarantined, not restored, not touched');
  assert.is(await sqlOne(url, 'SELECT id FROM projects WHERE id = $1', [PORTFOLIO_ID]), undefined);
}));

test('export never overwrites a project folder that differs', readable(async () => {
  const { dataDir } = await editorData();
  const url = await server.freshDatabase('export-differs');
  await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  const out = await freshDir('export-into-editor');
  await writeEditorDataDir(out);
  const media = join(out, 'projects', 'portfolio', 'uploads', 'media.json');
  await writeFile(media, JSON.stringify({ files: [] }, null, 2));
  const before = await snapshotTree(out);
  const report = await exportToFiles({ databaseUrl: url, to: out, dryRun: false });
  assert.equal(outcomes(report), { 'bakery-site': 'unchanged', portfolio: 'skipped', 'legacy-site': 'unchanged' });
  assert.match(report.projects.find((p) => p.folder === 'portfolio')?.reason ?? '', /exists and differs/);
  assert.equal(await snapshotTree(out), before);
}));

test('a project made in PostgreSQL exports as mediastore makes one in files: registered, its library and content; and migrates back the same', readable(async () => {
  const url = await server.freshDatabase('native');
  const backend = await PostgresBackend.open({ databaseUrl: url });
  let made;
  try {
    made = await backend.createProject({ name: 'Made in PG' });
    const lib = await backend.library(made.id);
    const [a, b] = await lib.addMedia(makeImageRecords(2));
    await saveContent(lib, 'home', { hero: a!.path });
    await saveContent(lib, 'global:footer', { logo: b!.sizes.thumb!.path });
    await lib.updateMetadata(a!.id, { alt: 'after the marks' });
  } finally {
    await backend.drain();
  }
  const out = await freshDir('export-native');
  assert.equal(outcomes(await exportToFiles({ databaseUrl: url, to: out, dryRun: false })), { 'made-in-pg': 'migrated' });
  const registry = (await parsed(join(out, 'projects', 'projects.json'))) as { projects: Array<Record<string, unknown>> };
  assert.equal(registry.projects.map((e) => [e.id, e.folderName, e.name, e.created]), [[made.id, 'made-in-pg', 'Made in PG', made.createdAt]], 'listed for the editor');

  const files = new FileBackend({ dataDir: out });
  const pg2 = await PostgresBackend.open({ databaseUrl: url });
  try {
    assert.equal(await files.getProject(made.id), await pg2.getProject(made.id));
    const inFiles = await files.library(made.id);
    const inPg = await pg2.library(made.id);
    assert.equal((await inFiles.read()).doc, (await inPg.read()).doc);
    assert.equal(await inFiles.readContent('global:footer'), await inPg.readContent('global:footer'));
  } finally {
    await files.drain();
    await pg2.drain();
  }
  const back = await server.freshDatabase('native-back');
  assert.equal(outcomes(await migrateToPostgres({ from: out, databaseUrl: back, dryRun: false })), { 'made-in-pg': 'migrated' });
  const served = async (databaseUrl: string) => {
    const served = await PostgresBackend.open({ databaseUrl });
    try {
      const lib = await served.library(made.id);
      return JSON.stringify([(await lib.read()).doc, await lib.readContent('home'), await lib.readContent('global:footer')]);
    } finally {
      await served.drain();
    }
  };
  assert.is(await served(back), await served(url), 'the same library, byte for byte');
}));

test('an editor project without uploads/ is migrated with its pages, and its folder is not touched', readable(async () => {
  const { dataDir } = await editorData();
  const bare = join(dataDir, 'projects', 'pages-only');
  await mkdir(join(bare, 'pages'), { recursive: true });
  await writeFile(join(bare, 'pages', 'home.json'), JSON.stringify({ name: 'Home', widgets: {} }, null, 2));
  const before = await snapshotTree(dataDir);
  const url = await server.freshDatabase('pages-only');
  const report = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  const project = report.projects.find((p) => p.folder === 'pages-only');
  assert.equal([project?.outcome, project?.records, project?.pages], ['migrated', 0, 1]);
  assert.equal(await snapshotTree(dataDir), before, 'no uploads/ made, nothing written');
}));

test('records PostgreSQL cannot keep as they are, and a folder another project holds: skipped with why, nothing written', readable(async () => {
  const { dataDir, editor } = await editorData();
  const url = await server.freshDatabase('unstorable');
  // The editor's own legacy spelling next to the usual one: one served path, two records.
  const doc = JSON.parse(await text(editor.bakery.mediaJson)) as { files: Array<Record<string, unknown>> };
  doc.files.push({ ...doc.files[1], id: 'second-logo', usedIn: undefined, path: 'uploads/images/logo.svg' });
  await writeFile(editor.bakery.mediaJson, JSON.stringify(doc, null, 2));
  const backend = await PostgresBackend.open({ databaseUrl: url });
  try {
    await backend.createProject({ id: 'portfolio', name: 'Made in PostgreSQL' });
  } finally {
    await backend.drain();
  }
  const report = await migrateToPostgres({ from: dataDir, databaseUrl: url, dryRun: false });
  assert.equal(outcomes(report), { 'bakery-site': 'skipped', portfolio: 'skipped', 'legacy-site': 'migrated' });
  const why = (folder: string) => report.projects.find((p) => p.folder === folder)?.reason ?? '';
  assert.match(why('bakery-site'), /both serve \/uploads\/images\/logo\.svg/);
  assert.match(why('portfolio'), /the folder portfolio belongs to project portfolio/);
  const projects = await sqlOne<{ ids: string[] }>(url, 'SELECT array_agg(id ORDER BY id) AS ids FROM projects');
  assert.equal(projects?.ids, ['legacy-site', 'portfolio']);
  assert.is((await sqlOne<{ name: string }>(url, "SELECT name FROM projects WHERE id = 'portfolio'"))?.name, 'Made in PostgreSQL', 'not overwritten');
}));

test.run();
