/**
 * A process killed with SIGKILL in the middle of a transaction: PostgreSQL
 * rolls back what it did not commit, so nothing it was told is lost, nothing
 * half-done is seen, and the project's lock dies with its connection.
 */
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, MediaRecord } from '../../shared/media-types.js';
import type { MediaLibrary } from '../../storage-worker/library-backend.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable } from '../helpers/storage-errors.js';
import { saveContent } from '../helpers/content-saves.js';

const CHILD = '../postgres/postgres-writer-child';

const test = suite('SIGKILL mid-transaction');
let server: TestPostgres;
let backend: PostgresBackend;

test.before(async () => {
  server = await startTestPostgres('sigkill');
  backend = await PostgresBackend.open({ databaseUrl: server.url });
});
test.after(async () => {
  await backend?.drain();
  await server?.close();
});

test('killed after writing usage rows, before its content: nothing of the save is seen, the lock is gone', readable(async () => {
  await backend.createProject({ id: 'blocked', name: 'blocked' });
  const lib = await backend.library('blocked');
  const [a, b, c] = await lib.addMedia(makeImageRecords(3));
  await saveContent(lib, 'home', { refs: [a!.path] });
  const before = await lib.read();

  // Hold the content row, so the child's save stops after its usage rows, inside its transaction.
  const holder = new pg.Client({ connectionString: server.url, application_name: 'test-holder' });
  await holder.connect();
  const child = new JsonLineChild(CHILD, [server.url, 'blocked', 'save', 'home', JSON.stringify([b!.path, c!.sizes.small!.path])]);
  try {
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM content WHERE project_id = 'blocked' AND source = 'home' FOR UPDATE");
    await child.next('saving');
    await waitUntil(holder, `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                           WHERE a.application_name = 'mediastore' AND l.relation = 'usage'::regclass
                             AND l.mode = 'RowExclusiveLock' AND l.granted
                             AND a.wait_event_type = 'Lock'`);
    const exit = await child.kill('SIGKILL');
    assert.is(exit.signal, 'SIGKILL');
    assert.not.ok(child.lines.some((l) => l.event === 'saved'), 'the save was never acknowledged');
  } finally {
    await holder.query('COMMIT').catch(() => undefined);
    await holder.end();
    await child.kill('SIGKILL');
  }
  // The next write takes the project's lock (the dead transaction rolled back), and sees none of it.
  await lib.updateMetadata(a!.id, { title: 'after' });
  const after = await lib.read();
  assert.equal(stripTitle(after.doc), stripTitle(before.doc), 'no usage row of the killed save survived');
  assert.equal(await lib.readContent('home'), { refs: [a!.path] });
  assert.not.ok('usedIn' in (await lib.getMedia(b!.id)));
}));

test('killed at a random moment under load: every acknowledged write is there, usage exact', readable(async () => {
  await backend.createProject({ id: 'loaded', name: 'loaded' });
  const lib = await backend.library('loaded');
  for (let run = 0; run < 3; run++) {
    const child = new JsonLineChild(CHILD, [server.url, 'loaded', 'loop', '4']);
    try {
      for (let n = 0; n < 20 + run * 15; n++) await child.next('saved', 20_000);
    } finally {
      await child.kill('SIGKILL');
    }
    const { doc } = await lib.read();
    const byId = new Map(doc.files.map((r) => [r.id, r]));
    for (const line of child.lines.filter((l) => l.event === 'added')) {
      const record = line.record as MediaRecord;
      assert.ok(byId.has(record.id), `acknowledged add of ${record.filename} kept`);
    }
    const lastAcked = new Map<string, unknown>();
    const lastTried = new Map<string, unknown>();
    for (const line of child.lines) {
      if (line.event === 'saved') lastAcked.set(String(line.source), line.content);
      if (line.event === 'saving') lastTried.set(String(line.source), line.content);
    }
    for (const [source, content] of lastAcked) {
      const stored = await lib.readContent(source);
      assert.ok(
        JSON.stringify(stored) === JSON.stringify(content) || JSON.stringify(stored) === JSON.stringify(lastTried.get(source)),
        `${source}: the last acknowledged save, or the one in flight when killed`,
      );
    }
    await assertUsageExact(lib, doc);
    // The lock died with the connection: this write goes through.
    await saveContent(lib, `after-${run}`, {});
  }
}));

async function assertUsageExact(lib: MediaLibrary, doc: MediaDocument): Promise<void> {
  const owner = new Map<string, string>();
  for (const r of doc.files) for (const p of [r.path, ...Object.values(r.sizes).map((s) => s.path)]) owner.set(p, r.id);
  const expected = new Map<string, string[]>();
  for (const source of await lib.contentSources()) {
    for (const path of extractMediaPaths(await lib.readContent(source))) {
      const id = owner.get(path);
      if (id !== undefined) expected.set(id, [...(expected.get(id) ?? []), source]);
    }
  }
  for (const r of doc.files) assert.equal([...(r.usedIn ?? [])].sort(), (expected.get(r.id) ?? []).sort(), `usage of ${r.filename}`);
}

function stripTitle(doc: MediaDocument): MediaDocument {
  return { files: doc.files.map((r) => ({ ...r, metadata: { ...r.metadata, title: '' } })) };
}

async function waitUntil(client: pg.Client, sql: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await client.query(sql)).rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.unreachable(`never true: ${sql}`);
}

test.run();
