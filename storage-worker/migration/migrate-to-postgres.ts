/**
 * `mediastore migrate --from <dataDir> --to <postgres-url> [--dry-run]`:
 * every project of a data directory into PostgreSQL, one transaction per
 * project.
 *
 * The rule that makes a second run safe (files are the source, but
 * PostgreSQL may have been written since by a server running on it):
 * each migrated project keeps the fingerprint of the files it came from.
 * - not in PostgreSQL yet → migrated;
 * - files unchanged since the last migration (same fingerprint), or the
 *   database already holds exactly what the files hold → unchanged;
 * - files changed, and the project in PostgreSQL is still what was
 *   migrated last time → updated (replaced whole by the files' version);
 * - files changed AND the project changed in PostgreSQL (or it was never
 *   migrated from files) → skipped: both sides have news, neither is
 *   overwritten.
 * A dry run makes the same decisions in a READ ONLY transaction.
 */
import { StorageError } from '../../shared/errors.js';
import { Database, type Queryable } from '../postgres/database.js';
import { runMigrations } from '../postgres/migrate.js';
import { FilesSource } from './files-source.js';
import { emptyCounts, type MigrationReport, type ProjectOutcome, type ProjectReport } from './migration-report.js';
import { contentCountsOf, fingerprintOf, type ProjectImage } from './project-image.js';
import { folderTakenBy, migratedFingerprint, readPostgresImage, recordMigration, whyNotStorable, writePostgresImage } from './postgres-images.js';
import { schemaState } from './schema-state.js';

export interface MigrateOptions {
  /** the data directory (holding `projects/`) */
  from: string;
  databaseUrl: string;
  dryRun: boolean;
}

export async function migrateToPostgres(options: MigrateOptions): Promise<MigrationReport> {
  const db = new Database({
    databaseUrl: options.databaseUrl,
    maxConnections: 2,
    ...(options.dryRun ? {} : { prepare: (pool) => runMigrations(pool) }),
  });
  const files = new FilesSource(options.from);
  try {
    // A dry run on a database without the schema: every project would be new.
    const noSchema = options.dryRun && (await db.transaction('read', schemaState)) === 'none';
    const projects: ProjectReport[] = [];
    for (const id of await files.list()) {
      let read;
      try {
        read = await files.readAndClose(id);
      } catch (err) {
        // Unreadable (a lock held too long, an I/O error): this project only.
        const error = StorageError.from(err);
        read = { ok: false as const, id, folder: id, reason: `could not be read: ${error.code}: ${error.message}` };
      }
      if (!read.ok) {
        projects.push({ id: read.id, folder: read.folder, outcome: 'skipped', reason: read.reason, ...emptyCounts(), notes: [] });
        continue;
      }
      const { image, notes } = read;
      const counts = { records: image.records.length, ...contentCountsOf(image) };
      const report = (outcome: ProjectOutcome, reason?: string): ProjectReport => ({
        id: image.id,
        folder: image.folder,
        outcome,
        ...(reason ? { reason } : {}),
        ...counts,
        notes,
      });
      const unstorable = whyNotStorable(image.records);
      if (unstorable) {
        projects.push(report('skipped', `PostgreSQL cannot keep these records as they are: ${unstorable}`));
        continue;
      }
      if (noSchema) {
        projects.push(report('migrated'));
        continue;
      }
      try {
        const [outcome, reason] = await db.transaction(options.dryRun ? 'read' : 'write', (q) => migrateOne(q, image, options.dryRun));
        projects.push(report(outcome, reason));
      } catch (err) {
        const error = StorageError.from(err);
        if (error.code === 'STORAGE_UNAVAILABLE') throw error; // the database, not this project: stop
        projects.push(report('skipped', `${error.code}: ${error.message}`));
      }
    }
    return { command: 'migrate', dryRun: options.dryRun, projects };
  } finally {
    await files.close();
    await db.close();
  }
}

async function migrateOne(q: Queryable, image: ProjectImage, dryRun: boolean): Promise<[ProjectOutcome, string?]> {
  const taken = await folderTakenBy(q, image.id, image.folder);
  if (taken !== null) return ['skipped', `the folder ${image.folder} belongs to project ${taken} in PostgreSQL`];
  const current = await readPostgresImage(q, image.id, !dryRun);
  const filesPrint = fingerprintOf(image);
  const write = async (existing: boolean) => {
    if (dryRun) return;
    await writePostgresImage(q, image, existing);
    await recordMigration(q, image.id, filesPrint);
  };
  if (!current) {
    await write(false);
    return ['migrated'];
  }
  const last = await migratedFingerprint(q, image.id);
  if (last === filesPrint) return ['unchanged'];
  const databasePrint = fingerprintOf(current);
  if (databasePrint === filesPrint) {
    if (!dryRun) await recordMigration(q, image.id, filesPrint);
    return ['unchanged'];
  }
  if (last !== null && databasePrint === last) {
    await write(true);
    return ['updated'];
  }
  return [
    'skipped',
    last === null
      ? 'PostgreSQL holds a different project under this id that was not migrated from files: not overwritten'
      : 'changed in PostgreSQL since it was migrated, and in the files: neither is overwritten (export it, or delete one side, to choose)',
  ];
}
