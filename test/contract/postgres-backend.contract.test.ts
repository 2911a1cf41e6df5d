/** The storage contract (library-contract.ts) against the PostgreSQL backend: one throwaway server, a fresh database per test. */
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { defineLibraryContract } from './library-contract.js';

let server: TestPostgres | undefined;

defineLibraryContract('postgres', {
  async before() {
    server = await startTestPostgres('contract');
  },
  async after() {
    await server?.close();
  },
  async makeBackend() {
    if (!server) throw new Error('the contract server did not start');
    const backend = await PostgresBackend.open({ databaseUrl: await server.freshDatabase('contract') });
    return { backend, cleanup: async () => undefined };
  },
});
