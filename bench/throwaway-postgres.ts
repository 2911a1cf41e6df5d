/**
 * The bench's PostgreSQL: the tests' throwaway server (its own data dir on a
 * free port of 127.0.0.1, removed at the end), one helper for both. Unlike
 * the tests' server it runs with `fsync=on` (and `synchronous_commit` on):
 * the file backend's rows are fsynced commits, so PostgreSQL's must be too
 * or the comparison flatters it.
 *
 * One server for every PostgreSQL variant of a run, a database each: the
 * variants are measured one at a time, and starting a server (initdb) costs
 * seconds.
 */
import { startTestPostgres, type TestPostgres } from '../scripts/throwaway-postgres.js';

export interface ThrowawayPostgres {
  /** a database of this variant's own */
  url: string;
  close(): Promise<void>;
}

let server: Promise<TestPostgres> | undefined;
let users = 0;

export async function startThrowawayPostgres(label: string): Promise<ThrowawayPostgres> {
  users += 1;
  server ??= startTestPostgres('bench', { ownServer: true, durable: true });
  const shared = await server;
  const url = await shared.freshDatabase(label);
  let closed = false;
  return {
    url,
    close: async () => {
      if (closed) return;
      closed = true;
      users -= 1;
      if (users > 0) return;
      server = undefined;
      await shared.close();
    },
  };
}
