/**
 * What a failure of PostgreSQL (or of the way to it) means to a caller: one
 * StorageError code, the same codes the file backend uses. The rule in one
 * place, so every operation answers a database that is down the same way:
 * STORAGE_UNAVAILABLE, which callers may retry.
 */
import pg from 'pg';
import { StorageError } from '../../shared/errors.js';

/** SQLSTATE classes and codes that say "the server cannot serve this now", not "this request is wrong". */
function isUnavailableState(state: string): boolean {
  return (
    state.startsWith('08') || // connection exception
    state === '57P01' || // admin_shutdown (pg_ctl stop -m fast/immediate)
    state === '57P02' || // crash_shutdown
    state === '57P03' || // cannot_connect_now (starting up, recovering)
    state === '57014' || // query_canceled: statement_timeout
    state === '53300' || // too_many_connections
    state === '3D000' // invalid_catalog_name: the database is gone
  );
}

/** Node's socket errors: the server is not there or went away. */
const SOCKET_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT']);

/**
 * node-postgres reports a dead or timed-out connection as a plain Error
 * without a code ("Connection terminated unexpectedly", "… due to connection
 * timeout", "Query read timeout", "timeout exceeded when trying to connect",
 * "Client has encountered a connection error and is not queryable"): the
 * message is all there is to go on.
 */
const CONNECTION_MESSAGE = /connection|terminated|timeout|not queryable|pool after calling end/i;

/** True when the failure says the connection it happened on cannot be trusted again. */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) return err.code !== undefined && isUnavailableState(err.code);
  if (!(err instanceof Error)) return false;
  const errno = (err as { code?: unknown }).code;
  if (typeof errno === 'string') return SOCKET_ERRNOS.has(errno);
  return CONNECTION_MESSAGE.test(err.message);
}

export function storageErrorFromPg(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof AggregateError && err.errors.length > 0) return storageErrorFromPg(err.errors[0]);
  if (isConnectionFailure(err)) {
    return new StorageError('STORAGE_UNAVAILABLE', `the database is unavailable: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (err instanceof pg.DatabaseError) {
    const details = { sqlstate: err.code };
    // lock_timeout while waiting for a project's row: the file backend's LOCK_TIMEOUT.
    if (err.code === '55P03') return new StorageError('LOCK_TIMEOUT', `waiting for the project's lock timed out: ${err.message}`, details, { cause: err });
    if (err.code === '40001' || err.code === '40P01') {
      return new StorageError('LOCK_TIMEOUT', `the operation conflicted with another one; retry it: ${err.message}`, details, { cause: err });
    }
    // A unique key refused a row the operation checked for first: another writer's row (a backstop only).
    if (err.code === '23505') return new StorageError('INVALID_INPUT', `already exists: ${err.detail ?? err.message}`, details, { cause: err });
    return StorageError.from(err, 'INTERNAL');
  }
  return StorageError.from(err, 'INTERNAL');
}
