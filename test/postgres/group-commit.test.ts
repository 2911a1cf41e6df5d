/**
 * Group commit (storage-worker/postgres/group-commit.ts): a project's writes
 * queued while its transaction runs go out together in the next one, each
 * under its own savepoint.
 *
 * The database itself tells which transaction wrote what: a trigger on
 * `content` and `media` (installed by the test, in a database of its own)
 * logs `txid_current()` — the top-level transaction, even inside a
 * savepoint — and only rows of committed transactions stay in the log.
 *
 * Batches are made deterministic by calling in one tick: the first call
 * finds the project idle and starts a transaction alone; every later call
 * of that tick queues behind it and goes out in the next transaction.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import type { StorageError } from '../../shared/errors.js';
import type { MediaLibrary } from '../../storage-worker/library-backend.js';
import { Database } from '../../storage-worker/postgres/database.js';
import { MAX_BATCH } from '../../storage-worker/postgres/group-commit.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { saveContent, usedIn } from '../helpers/content-saves.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';

const test = suite('postgres group commit');
let server: TestPostgres;

interface Ctx {
  backend: PostgresBackend;
  lib: MediaLibrary;
  /** a connection of the test's own, to the same database */
  admin: pg.Client;
}

test.before(async () => {
  server = await startTestPostgres('group-commit');
});
test.after(async () => {
  await server?.close();
});

function withProject(label: string, fn: (ctx: Ctx) => Promise<void>) {
  return readable(async () => {
    const url = await server.freshDatabase(label);
    const backend = await PostgresBackend.open({ databaseUrl: url });
    const admin = new pg.Client({ connectionString: url, application_name: 'test-admin' });
    await admin.connect();
    try {
      await backend.createProject({ id: 'site', name: 'site' });
      await installCommitLog(admin);
      await fn({ backend, lib: await backend.library('site'), admin });
    } finally {
      await admin.end();
      await backend.drain();
    }
  });
}

/** Logs the top-level transaction of every content save and media insert that commits. */
async function installCommitLog(admin: pg.Client): Promise<void> {
  await admin.query(`
    CREATE TABLE test_commit_log (xid bigint NOT NULL, what text NOT NULL);
    CREATE FUNCTION test_log_content() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_commit_log VALUES (txid_current(), 'content:' || NEW.source); RETURN NULL; END $$;
    CREATE FUNCTION test_log_media() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_commit_log VALUES (txid_current(), 'media:' || NEW.id); RETURN NULL; END $$;
    CREATE TRIGGER test_log_content AFTER INSERT OR UPDATE ON content FOR EACH ROW EXECUTE FUNCTION test_log_content();
    CREATE TRIGGER test_log_media AFTER INSERT ON media FOR EACH ROW EXECUTE FUNCTION test_log_media();
  `);
}

/** How many committed transactions wrote the logged rows named (all logged rows when none are named). */
async function transactionsThatWrote(admin: pg.Client, what?: string[]): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    'SELECT count(DISTINCT xid) AS n FROM test_commit_log WHERE $1::text[] IS NULL OR what = ANY($1::text[])',
    [what ?? null],
  );
  return Number(rows[0]!.n);
}

/** Settles every promise; the outcomes in order. */
async function outcomes(promises: Promise<unknown>[]): Promise<Array<{ ok: true } | { ok: false; error: StorageError }>> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => (s.status === 'fulfilled' ? { ok: true as const } : { ok: false as const, error: s.reason as StorageError }));
}

test('100 concurrent saves share 1 + ceil(99 / MAX_BATCH) transactions; each is stored with exact usage', withProject('gc-share', async ({ lib, admin }) => {
  const files = await lib.addMedia(makeImageRecords(10));
  const saves = Array.from({ length: 100 }, (_, i) => saveContent(lib, `page-${i}`, { img: files[i % 10]!.path }));
  const results = await Promise.all(saves);
  assert.is(results.length, 100);

  const pages = Array.from({ length: 100 }, (_, i) => `content:page-${i}`);
  assert.is(await transactionsThatWrote(admin, pages), 1 + Math.ceil(99 / MAX_BATCH));
  for (let f = 0; f < 10; f++) {
    const expected = Array.from({ length: 10 }, (_, k) => `page-${f + 10 * k}`).sort();
    assert.equal([...(await usedIn(lib, files[f]!.id))].sort(), expected, `file ${f} is used by exactly its pages`);
  }
  assert.equal(await lib.readContent('page-42'), { img: files[2]!.path });
}));

test('refused operations in a batch undo only themselves and answer their own errors; the others commit together', withProject('gc-refused', async ({ lib, admin }) => {
  const [a, b, c] = makeImageRecords(3);
  // A unique key on the content's text: a second page with the same text is refused by PostgreSQL itself
  // (23505) after its save has replaced its usage rows, so only the savepoint can take those back.
  await admin.query('CREATE UNIQUE INDEX test_one_body ON content (md5(body))');
  const calls = [
    saveContent(lib, 'first', { n: 'alone' }), // alone in the first transaction
    lib.addMedia([a!]),
    lib.addMedia([{ ...b!, path: a!.path }]), // a's path: INVALID_INPUT
    lib.updateMetadata('no-such-file', { alt: 'x' }), // MEDIA_NOT_FOUND
    saveContent(lib, 'home', { hero: a!.path }),
    lib.addMedia([b!]),
    saveContent(lib, 'copy', { hero: a!.path }), // the same text as home: unique violation
    lib.deleteContent('never-saved'), // PAGE_NOT_FOUND
    lib.addMedia([c!]),
  ];
  const got = await outcomes(calls);
  assert.equal(got.map((o) => (o.ok ? 'ok' : o.error.code)), [
    'ok',
    'ok',
    'INVALID_INPUT',
    'MEDIA_NOT_FOUND',
    'ok',
    'ok',
    'INVALID_INPUT',
    'PAGE_NOT_FOUND',
    'ok',
  ]);

  assert.equal((await lib.read()).doc.files.map((r) => r.id), [a!.id, b!.id, c!.id], 'the accepted adds are stored, in call order');
  assert.equal(await lib.contentSources(), ['first', 'home'], 'the refused save left no content');
  assert.equal(await usedIn(lib, a!.id), ['home'], 'the refused save left no usage row');
  assert.is(await transactionsThatWrote(admin, ['content:home', `media:${a!.id}`, `media:${b!.id}`, `media:${c!.id}`]), 1, 'one transaction');
}));

test('a COMMIT that fails fails every caller of its batch, and nothing of the batch is stored', withProject('gc-commit', async ({ lib, admin }) => {
  // A deferred constraint trigger: checked at COMMIT, after every operation of the batch succeeded.
  await admin.query(`
    CREATE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.body LIKE '%refuse-at-commit%' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT OR UPDATE ON content
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_at_commit();
  `);
  const [file, added] = await lib.addMedia(makeImageRecords(2));
  const calls = [
    saveContent(lib, 'first', { n: 'alone' }), // alone in the first transaction
    saveContent(lib, 'home', { hero: file!.path }),
    lib.addMedia(makeImageRecords(1, 'late')),
    saveContent(lib, 'bad', { marker: 'refuse-at-commit' }),
    lib.deleteMedia([added!.id]),
    saveContent(lib, 'about', { hero: file!.path }),
  ];
  const [first, ...batch] = await outcomes(calls);
  assert.ok(first!.ok, 'the transaction before commits');
  for (const o of batch) {
    assert.not.ok(o.ok, 'every caller of the failed batch is refused');
    if (!o.ok) assert.is(o.error.code, 'INTERNAL');
  }
  assert.equal(await lib.contentSources(), ['first']);
  assert.equal((await lib.read()).doc.files.map((r) => r.id), [file!.id, added!.id], 'no add, no delete');
  assert.not.ok('usedIn' in (await lib.getMedia(file!.id)), 'no usage row');

  await saveContent(lib, 'home', { hero: file!.path });
  assert.equal(await usedIn(lib, file!.id), ['home'], 'the next batch commits');
}));

test('a connection killed mid-batch fails every caller with STORAGE_UNAVAILABLE, nothing of the batch is stored', withProject('gc-kill', async ({ lib, admin }) => {
  // Saving a page whose text says "hold-here" waits for an advisory lock the test holds, so the test
  // knows the batch is in the middle of its transaction when it kills that connection.
  await admin.query(`
    CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.body LIKE '%hold-here%' THEN PERFORM pg_advisory_xact_lock(4242); END IF; RETURN NEW; END $$;
    CREATE TRIGGER test_hold BEFORE INSERT OR UPDATE ON content FOR EACH ROW EXECUTE FUNCTION test_hold();
  `);
  const [file] = await lib.addMedia(makeImageRecords(1));
  await admin.query('SELECT pg_advisory_lock(4242)');
  const calls = outcomes([
    saveContent(lib, 'first', { n: 'alone' }), // alone in the first transaction
    saveContent(lib, 'home', { hero: file!.path }),
    saveContent(lib, 'held', { marker: 'hold-here' }),
    lib.addMedia(makeImageRecords(1, 'late')),
  ]);
  let pid: number | undefined;
  for (let look = 0; pid === undefined; look++) {
    // a bound, not a timing assertion: without it a batch that never reaches the lock would hang the file
    if (look === 1000) assert.unreachable('the batch never waited for the held lock');
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted");
    pid = rows[0]?.pid;
    if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await admin.query('SELECT pg_advisory_unlock(4242)');

  const [first, ...batch] = await calls;
  assert.ok(first!.ok);
  for (const o of batch) {
    assert.not.ok(o.ok, 'every caller of the killed batch is refused');
    if (!o.ok) assert.is(o.error.code, 'STORAGE_UNAVAILABLE');
  }
  assert.equal(await lib.contentSources(), ['first']);
  assert.equal((await lib.read()).doc.files.map((r) => r.id), [file!.id]);
  assert.not.ok('usedIn' in (await lib.getMedia(file!.id)));

  await saveContent(lib, 'home', { hero: file!.path });
  assert.equal(await usedIn(lib, file!.id), ['home'], 'the pool heals: the next batch commits');
}));

test('call order within a batch: a delete sees the saves called before it, not those after', withProject('gc-order', async ({ lib, admin }) => {
  const [dropped, kept] = await lib.addMedia(makeImageRecords(2));
  await saveContent(lib, 'home', { hero: dropped!.path });
  await saveContent(lib, 'about', { hero: kept!.path });

  const [, homeSaved, dropResult, keepResult, aboutSaved] = await Promise.all([
    saveContent(lib, 'first', { n: 'alone' }), // alone in the first transaction
    saveContent(lib, 'home', { hero: null }), // home no longer uses `dropped`…
    lib.deleteMedia([dropped!.id]), // …so its delete goes through
    lib.deleteMedia([kept!.id]), // about still uses `kept` here…
    saveContent(lib, 'about', { hero: null }), // …it is dropped only after the delete
  ]);
  assert.equal(homeSaved.fileIds, []);
  assert.equal(dropResult.deleted.map((r) => r.id), [dropped!.id]);
  assert.equal(keepResult.inUse.map((r) => [r.id, r.usedIn]), [[kept!.id, ['about']]]);
  assert.equal(keepResult.deleted, []);
  assert.equal(aboutSaved.fileIds, []);

  assert.equal((await lib.read()).doc.files.map((r) => r.id), [kept!.id]);
  assert.equal(await usedIn(lib, kept!.id), []);
  // home and about were saved once each on their own before; the batch's two saves share one transaction
  assert.is(await transactionsThatWrote(admin, ['content:home', 'content:about']), 2 + 1);
}));

test('a transaction a failed statement left aborted is not reported committed (PostgreSQL answers its COMMIT with ROLLBACK)', readable(async () => {
  const db = new Database({ databaseUrl: await server.freshDatabase('gc-aborted') });
  try {
    await db.transaction('write', (q) => q.query('CREATE TABLE t (n int)'));
    const err = await rejection(
      db.transaction('write', async (q) => {
        await q.query('INSERT INTO t VALUES (1)');
        await q.query('SELECT 1 / 0').catch(() => undefined); // a failure swallowed without a rollback to a savepoint
        return 'acknowledged';
      }),
    );
    assert.is(err.code, 'INTERNAL');
    assert.is((await db.transaction('read', (q) => q.query('SELECT 1 FROM t'))).rowCount, 0, 'and indeed nothing was committed');
  } finally {
    await db.close();
  }
}));

test.run();
