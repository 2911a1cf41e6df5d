/**
 * mediastore with the PostgreSQL backend through the typed storage client:
 * the same operation as `mediastore-client` (setUsage), so the rows compare
 * backends and nothing else. The bench starts its own throwaway PostgreSQL
 * (throwaway-postgres.ts).
 *
 * `two-servers-postgres`: two storage clients (two worker threads, each
 * with its own connection pool, as two server processes would have) on one
 * database, the closed loop's operations dealt to them in turn: what two
 * servers behind a load balancer cost, both writing the same projects.
 */
import { StorageClient } from '../../client/storage-client.js';
import { type Dataset, randomFileIdOf } from '../workload.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../throwaway-postgres.js';
import { loadProjects, projectIdFor } from './mediastore-client.js';
import type { Target, Variant } from './variant.js';

export class MediastorePostgresVariant implements Variant {
  readonly name: 'mediastore-postgres' | 'two-servers-postgres';
  private database: ThrowawayPostgres | undefined;
  private clients: StorageClient[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly servers: 1 | 2,
  ) {
    this.name = servers === 1 ? 'mediastore-postgres' : 'two-servers-postgres';
    if (servers === 1) this.noop = { name: 'storage.ping() (SELECT 1)', call: () => this.clients[0]!.ping() };
  }

  readonly noop: Variant['noop'];

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    this.database = await startThrowawayPostgres(this.name);
    for (let i = 0; i < this.servers; i++) {
      this.clients.push(await StorageClient.start({ dataDir: this.dataDir, databaseUrl: this.database.url, logLevel: 'silent' }));
    }
    const [first] = this.clients as [StorageClient];
    await loadProjects(first, datasets);
    const targets = new Map<number, Target>();
    let turn = 0;
    const next = (): StorageClient => this.clients[turn++ % this.clients.length]!;
    for (const dataset of datasets) {
      const projectId = projectIdFor(dataset.n);
      const randomFileId = randomFileIdOf(dataset);
      targets.set(dataset.n, {
        op: async (op) => {
          await next().setUsage(projectId, op.pageId, op.paths);
        },
        reads:
          this.servers === 1
            ? {
                'listMediaJson (text)': () => first.listMediaJson(projectId),
                'usage(fileId)': () => first.usage(projectId, randomFileId()),
              }
            : {},
      });
    }
    return targets;
  }

  async close(): Promise<void> {
    for (const client of this.clients.splice(0)) await client.close();
    await this.database?.close();
    this.database = undefined;
  }
}
