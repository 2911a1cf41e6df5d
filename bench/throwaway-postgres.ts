/**
 * The bench's PostgreSQL: the tests' throwaway server (its own data dir on a
 * free port of 127.0.0.1, removed at the end), one helper for both. Unlike
 * the tests' server it runs with `fsync=on` (and `synchronous_commit` on):
 * the file backend's rows are fsynced commits, so PostgreSQL's must be too
 * or the comparison flatters it.
 */
import { startTestPostgres, type TestPostgres } from '../test/helpers/postgres-server.js';

export type ThrowawayPostgres = TestPostgres;

export function startThrowawayPostgres(label: string): Promise<ThrowawayPostgres> {
  return startTestPostgres(label, { ownServer: true, durable: true });
}
