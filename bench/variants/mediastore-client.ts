/**
 * mediastore through the typed storage client (the RPC the HTTP handlers use),
 * durable as shipped: every acknowledged operation is in an fsynced commit.
 *
 * Two operations: `setUsage` (the workload's operation: replace a page's
 * usage) and `saveContent` (the page save the HTTP route performs: it also
 * writes the page's content file), so the HTTP row can be compared with the
 * same work done without HTTP.
 */
import { StorageClient } from '../../client/storage-client.js';
import { makePageContent, type Dataset, randomFileIdOf } from '../workload.js';
import type { Target, Variant } from './variant.js';

/** addMedia takes at most this many records per call (one upload request holds far fewer). */
const ADD_MEDIA_CHUNK = 1000;

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
    for (let i = 0; i < dataset.records.length; i += ADD_MEDIA_CHUNK) {
      await storage.addMedia(projectId, dataset.records.slice(i, i + ADD_MEDIA_CHUNK));
    }
    await Promise.all(
      [...dataset.initialUsage].map(([pageId, paths]) => storage.setUsage(projectId, pageId, paths)),
    );
  }
}

export type ClientOperation = 'setUsage' | 'saveContent';

export class MediastoreClientVariant implements Variant {
  readonly name: 'mediastore-client' | 'mediastore-client-save';
  private storage: StorageClient | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly operation: ClientOperation,
  ) {
    this.name = operation === 'setUsage' ? 'mediastore-client' : 'mediastore-client-save';
    // Round trips and reads do not depend on the write operation: measured once, by the setUsage variant.
    if (operation === 'setUsage') this.noop = { name: 'storage.ping()', call: () => this.client().ping() };
  }

  readonly noop: Variant['noop'];

  private client(): StorageClient {
    if (!this.storage) throw new Error('mediastore-client: prepare() first');
    return this.storage;
  }

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    const storage = await StorageClient.start({ dataDir: this.dataDir, logLevel: 'silent' });
    this.storage = storage;
    await loadProjects(storage, datasets);
    const targets = new Map<number, Target>();
    for (const dataset of datasets) {
      const projectId = projectIdFor(dataset.n);
      const randomFileId = randomFileIdOf(dataset);
      targets.set(dataset.n, {
        op:
          this.operation === 'setUsage'
            ? async (op) => {
                await storage.setUsage(projectId, op.pageId, op.paths);
              }
            : async (op) => {
                await storage.saveContent(projectId, op.pageId, makePageContent(op));
              },
        counters: async () => {
          const s = await storage.stats();
          return {
            commits: s.commits,
            operations: s.operations,
            commitMsTotal: s.commitDurationMs.sum,
            phaseMsTotal: { ...s.commitPhaseMs },
          };
        },
        reads:
          this.operation === 'setUsage'
            ? {
                'listMedia (document)': () => storage.listMedia(projectId),
                'listMediaJson (text)': () => storage.listMediaJson(projectId),
                'usage(fileId)': () => storage.usage(projectId, randomFileId()),
              }
            : {},
      });
    }
    return targets;
  }

  async close(): Promise<void> {
    await this.storage?.close();
    this.storage = undefined;
  }
}
