/** The library contract checks against the PostgreSQL backend, on a throwaway server. */
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { startTestPostgres } from '../helpers/postgres-server.js';
import { defineLibraryChecks } from './library-contract-checks.js';

defineLibraryChecks('postgres', async () => {
  const pg = await startTestPostgres('contract');
  const backend = await PostgresBackend.open({ databaseUrl: pg.url });
  return {
    backend,
    async close() {
      await backend.drain();
      await pg.close();
    },
  };
});
