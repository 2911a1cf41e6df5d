/**
 * Whether a database's schema is what this mediastore writes. `migrate`
 * brings it up to date (it is the database's first writer); a dry run and
 * `export` only read, so they must not create or change a schema.
 */
import { StorageError } from '../../shared/errors.js';
import type { Queryable } from '../postgres/database.js';
import { MIGRATIONS } from '../postgres/migrations.js';

export const LATEST_SCHEMA = Math.max(...MIGRATIONS.map((m) => m.version));

/** 'none': no mediastore schema at all; 'current'; else STORAGE_UNAVAILABLE naming the version found. */
export async function schemaState(q: Queryable): Promise<'none' | 'current'> {
  const { rows } = await q.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!rows[0]?.t) return 'none';
  const found = await q.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  const version = found.rows[0]?.v ?? 0;
  if (version >= LATEST_SCHEMA) return 'current';
  throw new StorageError('STORAGE_UNAVAILABLE', `the database schema is at version ${version}, this mediastore needs ${LATEST_SCHEMA}: run \`mediastore migrate\` without --dry-run, or start the server on it once`, {
    version,
    needed: LATEST_SCHEMA,
  });
}
