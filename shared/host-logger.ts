/**
 * The logger a host hands to mediastore: anything pino-compatible (pino
 * itself, a pino child, or a small adapter over another logging library).
 * Only the six level methods with pino's `(fields, message)` shape are used.
 */
export type LogMethod = (fields: Record<string, unknown>, message?: string) => void;

export interface HostLogger {
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
  /** pino's current level; when present, the storage worker logs at the same level */
  level?: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const PINO_LEVELS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The host logger's level when the worker's pino can use it (a custom level would stop the worker from starting). */
export function workerLevelOf(logger: HostLogger | undefined): string | undefined {
  return typeof logger?.level === 'string' && PINO_LEVELS.has(logger.level) ? logger.level : undefined;
}
