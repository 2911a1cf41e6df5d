/**
 * The storage's on-disk formats (and which media paths content uses), for verifiers that read the files
 * themselves instead of asking the worker: the chaos harness checks what a
 * killed process left behind, which no live worker may be trusted to report,
 * and `mediastore migrate`/`export` (scripts/migrate-cli.ts) carry libraries
 * whole between the files and PostgreSQL, with no server running.
 * The one implementation of each stays in the worker; this is the only door
 * to it from outside (test/layout/import-rules.test.ts allows re-exports here
 * and nothing else). Paths themselves are in shared/project-paths.ts.
 */
export { parseMediaDocument } from './storage-worker/media-document-schema.js';
export { parseTempName, type TempNameParts } from './storage-worker/temp-file-name.js';
export { claimedLockName } from './storage-worker/lock-stamp.js';
export { extractMediaPaths } from './storage-worker/usage-extraction.js';
export { exportToFiles } from './storage-worker/migration/export-to-files.js';
export { migrateToPostgres } from './storage-worker/migration/migrate-to-postgres.js';
export { formatReport, type MigrationReport } from './storage-worker/migration/migration-report.js';
