/**
 * Prometheus metrics (prom-client): the HTTP request duration histogram, the
 * storage worker's counters and histograms, and the `GET /metrics` endpoint.
 *
 * `ServiceMetrics` owns one registry (so several apps in one test process
 * never collide on metric names) and hands out the two pieces the app plugs
 * in (server/http/app-deps.ts): `middleware()`, which times every request into
 * `mediastore_http_request_duration_seconds{method,route,status}`, and
 * `route()`, which serves `GET /metrics`.
 *
 * The storage numbers live in the worker thread. They are fetched once per
 * scrape with `storage.stats()` and exported as they are: the worker already
 * keeps cumulative counters and fixed-bucket histograms, and prom-client has
 * no public way to load a histogram from bucket counts, so those families are
 * small read-only metric objects that render the last snapshot.
 */
import type { Context, Middleware, Next } from 'koa';
import { Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { withDeadline } from '../shared/deadline.js';
import type { HistogramSnapshot, StorageApi, StorageStats } from '../shared/storage-api.js';
import { routeLabel } from './request-log.js';

export interface MetricsOptions {
  /** where storage numbers come from; omit for an app without storage metrics */
  storage?: Pick<StorageApi, 'stats'>;
  /** add prom-client's process metrics (memory, CPU, event loop lag, handles) */
  processMetrics?: boolean;
  /** how long a scrape waits for the worker before reporting it down (default 2000) */
  statsTimeoutMs?: number;
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  private readonly storage: StorageStatsCollector | undefined;

  constructor(options: MetricsOptions = {}) {
    this.http = new Histogram({
      name: 'mediastore_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers: [this.registry],
    });
    if (options.storage) {
      this.storage = new StorageStatsCollector(options.storage, options.statsTimeoutMs ?? 2000);
      this.storage.register(this.registry);
    }
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'mediastore_' });
  }

  /** Times every request; mounted outside the error responder, so it sees the final status. */
  middleware(): Middleware {
    return async (ctx: Context, next: Next): Promise<void> => {
      const started = process.hrtime.bigint();
      let failed = false;
      try {
        await next();
      } catch (err) {
        failed = true; // koa answers an escaped error with 500 (or its own status)
        throw err;
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.observeHttp(ctx.method, routeLabel(ctx), failed ? 500 : ctx.status, seconds);
      }
    };
  }

  /** The `GET /metrics` handler, in Prometheus text format. */
  route(): Middleware {
    return async (ctx: Context): Promise<void> => {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = this.registry.contentType;
      ctx.body = await this.render();
    };
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
  }

  async render(): Promise<string> {
    await this.storage?.refresh();
    return this.registry.metrics();
  }
}

// --- storage families ------------------------------------------------------

type MetricKind = 'counter' | 'gauge' | 'histogram';

interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A read-only metric family in the shape prom-client's registry renders
 * (`name`, `help`, `type`, `get()`); its samples come from a function over
 * the last storage snapshot.
 */
class SnapshotFamily {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricKind,
    private readonly sample: () => SampleValue[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: MetricKind; aggregator: string; values: SampleValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.sample() };
  }

  reset(): void {
    // The snapshot is owned by the worker; nothing to reset here.
  }
}

/** Cumulative `_bucket`/`_sum`/`_count` samples of a worker histogram, its bounds scaled (ms → s). */
export function histogramSamples(name: string, snap: HistogramSnapshot, scale = 1): SampleValue[] {
  const out: SampleValue[] = [];
  let cumulative = 0;
  snap.bounds.forEach((bound, i) => {
    cumulative += snap.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { le: bound * scale }, value: cumulative });
  });
  cumulative += snap.counts[snap.bounds.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels: {}, value: snap.sum * scale });
  out.push({ metricName: `${name}_count`, labels: {}, value: snap.count });
  return out;
}

class StorageStatsCollector {
  private last: StorageStats | undefined;
  private up = 0;

  constructor(
    private readonly storage: Pick<StorageApi, 'stats'>,
    private readonly timeoutMs: number,
  ) {}

  /** Fetch one snapshot per scrape; a worker that does not answer is reported down, not waited for. */
  async refresh(): Promise<void> {
    try {
      const stats = await withDeadline(this.storage.stats(), this.timeoutMs, () => undefined);
      this.up = stats ? 1 : 0;
      if (stats) this.last = stats;
    } catch {
      // stats() rejects only with StorageError (unavailable, restarting): that is exactly "down".
      this.up = 0;
    }
  }

  register(registry: Registry): void {
    const s = (): StorageStats | undefined => this.last;
    const scalar = (pick: (st: StorageStats) => number) => (): SampleValue[] => {
      const st = s();
      return st ? [{ labels: {}, value: pick(st) }] : [];
    };
    const hist = (name: string, pick: (st: StorageStats) => HistogramSnapshot, scale: number) => (): SampleValue[] => {
      const st = s();
      return st ? histogramSamples(name, pick(st), scale) : [];
    };
    const families = [
      new SnapshotFamily('mediastore_storage_up', 'Whether the storage worker answered the last scrape', 'gauge', () => [
        { labels: {}, value: this.up },
      ]),
      new SnapshotFamily(
        'mediastore_storage_commit_duration_seconds',
        'Duration of one commit of a media library (lock, write, fsync, rename)',
        'histogram',
        hist('mediastore_storage_commit_duration_seconds', (st) => st.commitDurationMs, 1 / 1000),
      ),
      new SnapshotFamily(
        'mediastore_storage_batch_size',
        'Operations committed together in one batch',
        'histogram',
        hist('mediastore_storage_batch_size', (st) => st.batchSize, 1),
      ),
      new SnapshotFamily(
        'mediastore_storage_lock_wait_seconds',
        'Time spent waiting for a project lock held by another process',
        'histogram',
        hist('mediastore_storage_lock_wait_seconds', (st) => st.lockWaitMs, 1 / 1000),
      ),
      new SnapshotFamily('mediastore_storage_queue_depth', 'Operations waiting or being committed', 'gauge', scalar((st) => st.queueDepth)),
      new SnapshotFamily('mediastore_storage_open_projects', 'Projects open in the storage worker', 'gauge', scalar((st) => st.openProjects)),
      new SnapshotFamily('mediastore_storage_commits_total', 'Successful commits', 'counter', scalar((st) => st.commits)),
      new SnapshotFamily('mediastore_storage_failed_commits_total', 'Commits that failed', 'counter', scalar((st) => st.failedCommits)),
      new SnapshotFamily('mediastore_storage_operations_total', 'Operations acknowledged by a commit', 'counter', scalar((st) => st.operations)),
      new SnapshotFamily('mediastore_storage_retries_total', 'Retried file-system errors by errno code', 'counter', () => {
        const st = s();
        return st ? Object.entries(st.retries).map(([code, value]) => ({ labels: { code }, value })) : [];
      }),
      new SnapshotFamily('mediastore_storage_lock_waits_total', 'Times a writer had to wait for a lock', 'counter', scalar((st) => st.lockWaits)),
      new SnapshotFamily(
        'mediastore_storage_stale_lock_takeovers_total',
        'Locks taken over from dead or stale holders',
        'counter',
        scalar((st) => st.staleLockTakeovers),
      ),
      new SnapshotFamily(
        'mediastore_storage_external_reloads_total',
        'Commits that found media.json changed by another process and reloaded it',
        'counter',
        scalar((st) => st.externalReloads),
      ),
      new SnapshotFamily('mediastore_storage_quarantines_total', 'Corrupt media.json files quarantined', 'counter', scalar((st) => st.quarantines)),
      new SnapshotFamily(
        'mediastore_storage_worker_restarts_total',
        'Storage worker threads started again after a death',
        'counter',
        scalar((st) => st.workerRestarts),
      ),
    ];
    // prom-client's registry renders any object with name/help/type/get();
    // its `Metric` type only names its own classes, hence the one cast here.
    for (const family of families) registry.registerMetric(family as unknown as Metric);
  }
}
