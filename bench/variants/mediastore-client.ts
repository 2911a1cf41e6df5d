/**
 * mediastore through the typed storage client (the RPC the HTTP handlers use),
 * durable as shipped: every acknowledged operation is in an fsynced commit.
 */
import { StorageClient } from '../../server/storage-client.js';
import { makeRandom, type Dataset } from '../workload.js';
import type { Target, Variant } from './variant.js';

export function projectIdFor(n: number): string {
  return `bench-n${n}`;
}

/**
 * Loads each dataset into its own project: the records in one commit, then
 * every page's initial usage (concurrently, so group commit absorbs it).
 */
export async function loadProjects(storage: StorageClient, datasets: readonly Dataset[]): Promise<void> {
  for (const dataset of datasets) {
    const projectId = projectIdFor(dataset.n);
    await storage.createProject({ name: `Benchmark N=${dataset.n}`, id: projectId });
    await storage.addMedia(projectId, dataset.records);
    await Promise.all(
      [...dataset.initialUsage].map(([pageId, paths]) => storage.setUsage(projectId, pageId, paths)),
    );
  }
}

export class MediastoreClientVariant implements Variant {
  readonly name = 'mediastore-client' as const;
  private storage: StorageClient | undefined;

  constructor(private readonly dataDir: string) {}

  private client(): StorageClient {
    if (!this.storage) throw new Error('mediastore-client: prepare() first');
    return this.storage;
  }

  readonly noop = { name: 'storage.ping()', call: () => this.client().ping() };

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    const storage = await StorageClient.start({ dataDir: this.dataDir, logLevel: 'silent' });
    this.storage = storage;
    await loadProjects(storage, datasets);
    const targets = new Map<number, Target>();
    for (const dataset of datasets) {
      const projectId = projectIdFor(dataset.n);
      const rand = makeRandom(dataset.n);
      const randomFileId = (): string =>
        (dataset.records[Math.floor(rand() * dataset.records.length)] ?? dataset.records[0])?.id ?? '';
      targets.set(dataset.n, {
        op: async (op) => {
          await storage.setUsage(projectId, op.pageId, op.paths);
        },
        counters: async () => {
          const s = await storage.stats();
          return { commits: s.commits, operations: s.operations, commitMsTotal: s.commitDurationMs.sum };
        },
        reads: {
          'listMedia (document)': () => storage.listMedia(projectId),
          'listMediaJson (text)': () => storage.listMediaJson(projectId),
          'usage(fileId)': () => storage.usage(projectId, randomFileId()),
        },
      });
    }
    return targets;
  }

  async close(): Promise<void> {
    await this.storage?.close();
    this.storage = undefined;
  }
}
