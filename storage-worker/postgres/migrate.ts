/**
 * Applies the missing migrations at start-up, in one transaction under a
 * transaction-scoped advisory lock: several servers starting at once queue
 * on the lock, and each one after the first finds every version recorded
 * and does nothing. DDL is transactional in PostgreSQL, so a start-up that
 * dies half-way leaves no half-made schema (and the lock ends with it).
 */
import type { Pool } from 'pg';
import { MIGRATIONS, type Migration } from './migrations.js';

/** An arbitrary constant naming "mediastore schema migrations" among advisory locks. */
const MIGRATION_LOCK_KEY = 0x6d656469; // 'medi'

export async function runMigrations(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  let failed = false;
  const onError = () => (failed = true); // a connection dying between statements (see database.ts)
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    // Before anything else: two concurrent `CREATE TABLE IF NOT EXISTS` can still collide.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.release(failed);
  }
}
