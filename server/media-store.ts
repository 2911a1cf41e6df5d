/**
 * What a host embeds: `startMediaStore` starts the storage worker and runs
 * start-up recovery; the returned MediaStore gives the typed client
 * (`storage`), the pieces to mount (the API, and — opt-in — health and
 * metrics), and `close()`. It installs no signal handlers and never exits
 * the process: the host owns its lifecycle (the standalone entry,
 * bin/mediastore.ts, is the one that handles signals).
 */
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { resolve } from 'node:path';
import { StorageClient } from '../client/storage-client.js';
import type { HostLogger } from '../shared/host-logger.js';
import type { DrainResult, StorageOptions } from '../shared/storage-api.js';
import type { AppState } from './http/app-state.js';
import { createLogger } from './logger.js';
import { mediaApi, type MediaApiOptions } from './media-api.js';
import { ServiceMetrics } from './metrics.js';
import { healthRoutes } from './routes/health.js';
import { openAllProjects, type StartupReport } from './startup-check.js';

export interface MediaStoreOptions {
  /** the data directory (`<dataDir>/projects/<id>/…`); resolved against the working directory */
  dataDir: string;
  /**
   * A pino-compatible logger for the HTTP pieces and the storage worker's
   * lines (forwarded from its thread). Default: pino JSON lines on stdout.
   */
  logger?: HostLogger;
  /**
   * storage tuning: lock wait, stale-lock limit, call deadline, worker log
   * level; `databaseUrl` keeps the libraries in PostgreSQL (binaries stay under `dataDir`)
   */
  storage?: Pick<StorageOptions, 'lockTimeoutMs' | 'staleLockMs' | 'callTimeoutMs' | 'logLevel' | 'databaseUrl'>;
}

export interface HealthOptions {
  /** `GET <prefix>/health`; default: the root */
  prefix?: string;
}

export interface MetricsPieceOptions {
  /** add prom-client's process metrics (memory, CPU, event loop); off by default, a host usually has its own */
  processMetrics?: boolean;
}

export interface MediaStore {
  /** the typed client: every StorageApi method; rejects only with StorageError */
  readonly storage: StorageClient;
  /** absolute */
  readonly dataDir: string;
  /** what start-up recovery found: projects opened, files, problems per project */
  readonly startup: StartupReport;
  /** the media API as Koa middleware, mountable under any prefix beside the host's routes */
  api(options?: MediaApiOptions): Middleware<AppState>;
  /** `GET /health` (the storage worker answers a ping); opt-in */
  health(options?: HealthOptions): Middleware<AppState>;
  /** Prometheus metrics: `.middleware()` times requests, `.route()` serves the text, `.registry` is prom-client's; opt-in */
  metrics(options?: MetricsPieceOptions): ServiceMetrics;
  /** commit everything queued, release every lock, stop the worker; idempotent */
  close(): Promise<DrainResult>;
}

export async function startMediaStore(options: MediaStoreOptions): Promise<MediaStore> {
  const dataDir = resolve(options.dataDir);
  const logger = options.logger ?? createLogger({ base: { component: 'mediastore' } });
  const storage = await StorageClient.start({ ...options.storage, dataDir, logger });
  storage.on('workerRestart', (info) => logger.warn(info, 'storage worker restarted'));
  let startup: StartupReport;
  try {
    // Recovery before anything is served: leftovers swept, corrupt libraries restored or refused.
    startup = await openAllProjects(storage);
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
  if (startup.problems.length > 0) logger.warn({ problems: startup.problems }, 'some media libraries cannot be opened');
  // Several servers over one database share the blob dir: names are claimed in the database (upload-name-claim.ts).
  const deps = { storage, dataDir, logger, ...(options.storage?.databaseUrl ? { uploadNameClaim: 'storage-record' as const } : {}) };
  let closed: Promise<DrainResult> | undefined;
  return {
    storage,
    dataDir,
    startup,
    api: (apiOptions) => mediaApi(deps, apiOptions),
    health: (healthOptions = {}) => {
      const router = healthOptions.prefix ? new Router<AppState>({ prefix: healthOptions.prefix }) : new Router<AppState>();
      healthRoutes(router, deps);
      return router.routes() as Middleware<AppState>;
    },
    metrics: (metricsOptions = {}) => new ServiceMetrics({ storage, processMetrics: metricsOptions.processMetrics ?? false }),
    close: () => (closed ??= storage.close()),
  };
}
