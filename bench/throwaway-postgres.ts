/**
 * The bench's PostgreSQL: the tests' throwaway server (its own data dir on a
 * free port of 127.0.0.1, removed at the end; or a fresh database on
 * `MEDIASTORE_TEST_DATABASE_URL`). One helper for both, so the bench measures
 * the server the tests run against: `fsync=off`, `synchronous_commit` on
 * (see test/helpers/postgres-server.ts), which the bench table says.
 */
export { startTestPostgres as startThrowawayPostgres, type TestPostgres as ThrowawayPostgres } from '../test/helpers/postgres-server.js';
