/**
 * The standalone server: configuration, logger, storage worker, start-up
 * recovery, the HTTP app, and the signal handlers that drain it all.
 * Importing this file starts nothing; bin/mediastore.ts (what `npm start`
 * and the package's `mediastore` command run) calls `main()`. A host that
 * embeds mediastore uses startMediaStore instead and keeps its own signals.
 *
 * Signals are handled from the first line on, not only once the server
 * listens: a watcher or a supervisor may stop a process that is still
 * starting, and that process must still close its storage worker (releasing
 * locks) instead of dying with the default action.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../shared/errors.js';
import { createApp } from './app.js';
import { loadConfig, type ServerConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import { requestLog } from './request-log.js';
import { GracefulShutdown } from './shutdown.js';
import { openAllProjects } from './startup-check.js';
import { StorageClient } from '../client/storage-client.js';

/** How long to keep trying a port that the previous process is still closing. */
const PORT_BUSY_RETRY_MS = 5000;

export async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    createLogger({ level: 'info' }).fatal({ err }, 'invalid configuration');
    process.exit(1);
  }
  const logger = createLogger({ level: config.logLevel });
  installCrashHandlers(logger);

  const server = createServer();
  let storage: StorageClient | undefined;
  // The worker's lines come through this process's logger (same stdout, same format, its own component).
  const workerLogger = createLogger({ level: config.logLevel, base: { component: 'storage-worker' } });
  const storageStarting = StorageClient.start({
    dataDir: config.dataDir,
    logLevel: config.logLevel,
    logger: workerLogger,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
  });
  storageStarting.catch(() => undefined); // handled below; a signal may close it first
  const shutdown = new GracefulShutdown({
    server,
    // A signal during start-up still waits for the worker, so it can be closed properly.
    storage: { close: async () => (await storageStarting.catch(() => undefined))?.close() },
    logger,
    deadlineMs: config.shutdownDeadlineMs,
  });
  shutdown.install();

  try {
    storage = await storageStarting;
  } catch (err) {
    logger.fatal({ err, dataDir: config.dataDir }, 'storage worker did not start');
    process.exit(1);
  }
  storage.on('workerRestart', (info) => logger.warn(info, 'storage worker restarted'));

  try {
    const startup = await openAllProjects(storage, () => shutdown.stopping);
    if (shutdown.stopping) return;

    const metrics = new ServiceMetrics({ storage, processMetrics: true });
    const app = createApp({
      storage,
      dataDir: config.dataDir,
      config,
      logger,
      // Several servers over one database share the blob dir: names are claimed in the database (upload-name-claim.ts).
      ...(config.databaseUrl ? { uploadNameClaim: 'storage-record' as const } : {}),
      requestLog: requestLog(logger),
      httpMetrics: metrics.middleware(),
      metricsRoute: metrics.route(),
    });
    server.on('request', app.callback());

    const address = await listen(server, config, logger, shutdown);
    // A signal may have come while binding: then the drain owns the exit, and says so itself.
    if (address === null || shutdown.stopping) return;
    logger.info(
      {
        address: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
        dataDir: config.dataDir,
        startup,
        node: process.version,
      },
      'listening',
    );
  } catch (err) {
    // Start-up failed after the worker started (the data dir unreadable, …):
    // still drain, so the worker releases whatever it locked.
    logger.fatal({ err, dataDir: config.dataDir }, 'start-up failed');
    void shutdown.begin('SIGTERM', 1);
  }
}

/**
 * Binds HOST:PORT. EADDRINUSE is retried for a few seconds: in dev mode or a
 * rolling restart the previous process may still hold the port for the few
 * milliseconds between receiving its signal and closing its socket.
 */
async function listen(
  server: ReturnType<typeof createServer>,
  config: ServerConfig,
  logger: Logger,
  shutdown: GracefulShutdown,
): Promise<AddressInfo | null> {
  const giveUpAt = Date.now() + PORT_BUSY_RETRY_MS;
  let warned = false;
  for (;;) {
    if (shutdown.stopping) return null;
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => {
          server.off('listening', onListening);
          reject(err);
        };
        const onListening = (): void => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(config.port, config.host);
      });
      const address = server.address();
      // null: closed by a drain that began while binding; a string would be a pipe, never configured.
      return address !== null && typeof address === 'object' ? address : null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || Date.now() > giveUpAt) {
        logger.fatal({ err, host: config.host, port: config.port }, 'cannot listen');
        // Through the drain, so the storage worker releases its locks.
        void shutdown.begin('SIGTERM', 1);
        return null;
      }
      if (!warned) {
        logger.warn({ host: config.host, port: config.port }, 'port busy, retrying (a previous process may still be closing it)');
        warned = true;
      }
      await sleep(50);
    }
  }
}

function installCrashHandlers(logger: Logger): void {
  // Nothing is acknowledged before it is durable, so dying here loses nothing
  // acknowledged; locks of a dead process are taken over by the next one.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason instanceof Error ? reason : new StorageError('INTERNAL', String(reason)) }, 'unhandled rejection');
    process.exit(1);
  });
}

