/**
 * Start-up: several servers migrating one database at once each succeed and
 * every migration runs exactly once; a migration that fails leaves nothing;
 * a database that is not there answers STORAGE_UNAVAILABLE.
 */
import { createServer } from 'node:net';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { runMigrations } from '../../storage-worker/postgres/migrate.js';
import { MIGRATIONS } from '../../storage-worker/postgres/migrations.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable, rejection } from '../helpers/storage-errors.js';

const test = suite('migrations');
let server: TestPostgres;

test.before(async () => {
  server = await startTestPostgres('migrations');
});
test.after(async () => {
  await server?.close();
});

test('six servers starting at once on an empty database: all start, each migration recorded once', readable(async () => {
  const url = await server.freshDatabase('six');
  const backends = await Promise.all(Array.from({ length: 6 }, () => PostgresBackend.open({ databaseUrl: url })));
  try {
    await backends[0]!.createProject({ id: 'p', name: 'p' });
    assert.is((await backends[5]!.getProject('p')).id, 'p');
  } finally {
    for (const b of backends) await b.drain();
  }
  const pool = new pg.Pool({ connectionString: url });
  try {
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.equal(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    assert.equal(await runMigrations(pool), [], 'a restart applies nothing');
  } finally {
    await pool.end();
  }
}));

test('a new migration reaching several running servers at once is applied by exactly one', readable(async () => {
  const url = await server.freshDatabase('next');
  const next = [...MIGRATIONS, { version: 1000, name: 'test table', sql: 'CREATE TABLE test_only_once (x int)' }];
  const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url }));
  try {
    const applied = await Promise.all(pools.map((p) => runMigrations(p, next)));
    assert.is(applied.filter((a) => a.includes(1000)).length, 1);
    assert.is(applied.filter((a) => a.includes(1)).length, 1);
  } finally {
    for (const p of pools) await p.end();
  }
}));

test('a migration that fails half-way leaves no trace and is not recorded', readable(async () => {
  const url = await server.freshDatabase('broken');
  const pool = new pg.Pool({ connectionString: url });
  try {
    await runMigrations(pool);
    const broken = { version: 2000, name: 'broken', sql: 'CREATE TABLE half_made (x int); SELECT no_such_function();' };
    try {
      await runMigrations(pool, [...MIGRATIONS, broken]);
      assert.unreachable('the broken migration must fail');
    } catch (err) {
      assert.instance(err, Error);
      assert.not.instance(err, assert.Assertion);
    }
    const { rows } = await pool.query("SELECT to_regclass('half_made') AS t, (SELECT count(*) FROM schema_migrations WHERE version = 2000)::int AS n");
    assert.equal(rows[0], { t: null, n: 0 });
  } finally {
    await pool.end();
  }
}));

test('no server listening: opening answers STORAGE_UNAVAILABLE', readable(async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const err = await rejection(PostgresBackend.open({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/none` }));
  assert.instance(err, StorageError);
  assert.is(err.code, 'STORAGE_UNAVAILABLE');
}));

test.run();
