/**
 * The main-thread end of the storage worker's log port: each pino line the
 * worker posts is handed to the host's logger at the same level, with the
 * worker's fields (thread, project, err, …) and message.
 *
 * pino's own envelope (level number, time, pid, hostname) is dropped, and so
 * is `component`: the host's logger stamps its own time and bindings, and a
 * key the host's logger already binds would otherwise appear twice in a line.
 */
import type { MessagePort } from 'node:worker_threads';
import type { HostLogger, LogLevel } from '../shared/host-logger.js';

/** pino's numeric levels. */
const LEVEL_NAMES: ReadonlyArray<[number, LogLevel]> = [
  [60, 'fatal'],
  [50, 'error'],
  [40, 'warn'],
  [30, 'info'],
  [20, 'debug'],
  [10, 'trace'],
];

function levelName(level: unknown): LogLevel {
  if (typeof level !== 'number') return 'info';
  return LEVEL_NAMES.find(([n]) => level >= n)?.[1] ?? 'trace';
}

/** Hands one pino JSON line to `logger`; a line that is not JSON is passed on as a message. */
export function forwardLogLine(line: unknown, logger: HostLogger): void {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(String(line));
    record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { msg: String(line) };
  } catch {
    record = { msg: String(line) };
  }
  const { level, time: _time, pid: _pid, hostname: _hostname, component: _component, msg, ...fields } = record;
  logger[levelName(level)](fields, typeof msg === 'string' ? msg : undefined);
}

/** Forwards every line arriving on `port`; the port does not keep the process alive. */
export function forwardWorkerLogs(port: MessagePort, logger: HostLogger): void {
  port.on('message', (line: unknown) => forwardLogLine(line, logger));
  port.unref();
}
