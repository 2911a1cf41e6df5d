/**
 * mediastore over HTTP: the real server (`node dist/bin/mediastore.js`, as
 * `npm start` runs it) in its own process on 127.0.0.1, driven by undici's
 * connection pool with one keep-alive connection per operation in flight.
 * An operation is the editor's page save, which also writes the page's
 * content file; the projects are loaded through the storage client before the
 * server starts, since uploading 10,000 images over HTTP would measure sharp.
 *
 * `mediastore-http-postgres`: the same server with `DATABASE_URL` on a
 * throwaway PostgreSQL (throwaway-postgres.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Pool } from 'undici';
import { StorageClient } from '../../client/storage-client.js';
import { makePageContent, type Dataset, randomFileIdOf } from '../workload.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../throwaway-postgres.js';
import { loadProjects, projectIdFor } from './mediastore-client.js';
import type { Target, Variant } from './variant.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

export class MediastoreHttpVariant implements Variant {
  readonly name: 'mediastore-http' | 'mediastore-http-postgres';
  private child: ChildProcess | undefined;
  private database: ThrowawayPostgres | undefined;
  private pool: Pool | undefined;
  /** the server's last stderr output, quoted when it dies */
  private stderrTail = '';

  constructor(
    private readonly dataDir: string,
    private readonly serverEntry: string,
    private readonly maxConnections: number,
    private readonly backend: 'files' | 'postgres' = 'files',
  ) {
    this.name = backend === 'files' ? 'mediastore-http' : 'mediastore-http-postgres';
  }

  private http(): Pool {
    if (!this.pool) throw new Error('mediastore-http: prepare() first');
    return this.pool;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: string): Promise<string> {
    const res = await this.http().request({
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new Error(`${method} ${path} → ${res.statusCode} ${text.slice(0, 200)}`);
    }
    return text;
  }

  readonly noop = { name: 'GET /health', call: () => this.request('GET', '/health') };

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    if (this.backend === 'postgres') this.database = await startThrowawayPostgres(this.name);
    const databaseUrl = this.database?.url;
    const storage = await StorageClient.start({ dataDir: this.dataDir, logLevel: 'silent', ...(databaseUrl ? { databaseUrl } : {}) });
    try {
      await loadProjects(storage, datasets);
    } finally {
      await storage.close();
    }
    await this.startServer(databaseUrl);

    const targets = new Map<number, Target>();
    for (const dataset of datasets) {
      const projectId = projectIdFor(dataset.n);
      const randomFileId = randomFileIdOf(dataset);
      targets.set(dataset.n, {
        op: async (op) => {
          await this.request(
            'POST',
            `/api/projects/${projectId}/pages/${op.pageId}/content`,
            JSON.stringify(makePageContent(op)),
          );
        },
        counters: () => this.counters(),
        reads: {
          'GET …/media (list)': () => this.request('GET', `/api/media/projects/${projectId}/media`),
          'GET …/media/:id/usage': () =>
            this.request('GET', `/api/media/projects/${projectId}/media/${randomFileId()}/usage`),
        },
      });
    }
    return targets;
  }

  /**
   * The storage worker's commit counters as the server exports them on
   * /metrics (a scrape refreshes them); undefined if the server does not.
   */
  private async counters(): Promise<{ commits: number; operations: number } | undefined> {
    const text = await this.request('GET', '/metrics');
    const value = (name: string): number | undefined => {
      const m = new RegExp(`^${name}(?:\\{\\})? ([0-9.e+]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const commits = value('mediastore_storage_commits_total');
    const operations = value('mediastore_storage_operations_total');
    return commits === undefined || operations === undefined ? undefined : { commits, operations };
  }

  private async startServer(databaseUrl: string | undefined): Promise<void> {
    const port = await freePort();
    const child = spawn(process.execPath, [this.serverEntry], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: this.dataDir, LOG_LEVEL: 'silent', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    this.pool = new Pool(`http://127.0.0.1:${port}`, { connections: this.maxConnections, pipelining: 1 });

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before answering:\n${this.stderrTail}`);
      }
      try {
        await this.request('GET', '/health');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`server did not answer /health within ${START_TIMEOUT_MS} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
    await this.stopServer();
    await this.database?.close();
    this.database = undefined;
  }

  private async stopServer(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
