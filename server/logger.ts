/**
 * The process logger: pino, one JSON object per line on stdout.
 *
 * Writes are synchronous on purpose. The lines that matter most — "shutting
 * down", "abandoned N requests", "worker restarted" — are written right
 * before the process exits or while it is being killed; an asynchronous
 * destination would lose exactly those. At one line per request and one per
 * commit the cost of sync writes is negligible.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export interface LoggerOptions {
  /** pino level; anything else falls back to 'info' (and says so) */
  level?: string | undefined;
  /** where lines go (default: stdout, synchronously); tests pass a collecting stream */
  destination?: DestinationStream;
  /** bound to every line, e.g. `{ name: 'doctor' }` */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const requested = options.level?.trim().toLowerCase();
  const level = requested && LEVELS.has(requested) ? requested : 'info';
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const logger = pino(
    {
      level,
      // pino's own line format (numeric level, epoch ms), the same as the
      // storage worker's lines that share this stdout: one format to parse.
      base: { pid: process.pid, component: 'server', ...options.base },
    },
    destination,
  );
  if (requested && !LEVELS.has(requested)) {
    logger.warn({ requested: options.level }, 'unknown LOG_LEVEL, using info');
  }
  return logger;
}

/** Checks a LOG_LEVEL value (used by the storage worker's own logger too). */
export function isLogLevel(value: string): boolean {
  return LEVELS.has(value);
}
