/**
 * The pool, and the one way operations touch it: a transaction. Every
 * failure leaves as a StorageError (pg-errors.ts); a connection that failed
 * is destroyed, not returned to the pool, so the pool heals itself by
 * opening fresh connections once the server is back.
 */
import pg from 'pg';
import { StorageError } from '../../shared/errors.js';
import { storageErrorFromPg, isConnectionFailure } from './pg-errors.js';

export interface DatabaseOptions {
  databaseUrl: string;
  /** connections per process (default 10) */
  maxConnections?: number;
  /** how long to wait for a connection before STORAGE_UNAVAILABLE (default 2000) */
  connectTimeoutMs?: number;
  /** how long a writer waits for a project's row lock before LOCK_TIMEOUT (default 5000) */
  lockTimeoutMs?: number;
  /** server-side bound of one statement (default 30000); the client gives up 5 s later */
  statementTimeoutMs?: number;
  /** a warning sink for errors of idle connections (default: ignored) */
  onIdleError?: (err: Error) => void;
  /**
   * Runs once before the first transaction (the schema migrations). A
   * failure (the server is down) fails that transaction and is tried again
   * by the next, so a backend made while the database is down starts
   * serving once it is up, without a restart.
   */
  prepare?: (pool: pg.Pool) => Promise<unknown>;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

export class Database {
  private pool: pg.Pool | null = null;
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private prepared: Promise<unknown> | null = null;

  constructor(private readonly options: DatabaseOptions) {}

  /** The pool, made on first use (again after `close`). */
  private currentPool(): pg.Pool {
    if (this.pool) return this.pool;
    const statementTimeout = this.options.statementTimeoutMs ?? 30_000;
    const pool = new pg.Pool({
      connectionString: this.options.databaseUrl,
      max: this.options.maxConnections ?? 10,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'mediastore',
      lock_timeout: this.options.lockTimeoutMs ?? 5000,
      statement_timeout: statementTimeout,
      // a client that stopped (paused, or a bug) must not hold a project's lock for ever
      idle_in_transaction_session_timeout: 60_000,
      // a server that stopped answering (paused, network gone) must not hold a caller for ever
      query_timeout: statementTimeout + 5000,
    });
    // Without a listener, an idle connection the server drops (a restart) would crash the process.
    pool.on('error', (err) => this.options.onIdleError?.(err));
    this.pool = pool;
    return pool;
  }

  /** `prepare`, once per success. */
  ready(): Promise<unknown> {
    const prepare = this.options.prepare;
    if (!prepare) return Promise.resolve();
    if (!this.prepared) {
      const attempt = prepare(this.currentPool()).catch((err: unknown) => {
        if (this.prepared === attempt) this.prepared = null;
        throw storageErrorFromPg(err);
      });
      this.prepared = attempt;
    }
    return this.prepared;
  }

  private async connect(): Promise<pg.PoolClient> {
    await this.ready();
    try {
      return await this.currentPool().connect();
    } catch (err) {
      throw storageErrorFromPg(err);
    }
  }

  /** The pool itself, for code that manages its own transaction (migrations). */
  rawPool(): pg.Pool {
    return this.currentPool();
  }

  /**
   * Runs `body` in one transaction and commits. A read runs REPEATABLE READ
   * READ ONLY (one snapshot over its several statements); a write runs READ
   * COMMITTED and serialises on its project's row (see the library).
   */
  async transaction<T>(mode: 'read' | 'write', body: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    // The pool listens for errors of idle connections only: one that dies while checked out
    // between two statements emits 'error' with no listener, which would end the process.
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      await client.query(mode === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const result = await body(client);
      // A transaction in the aborted state (a statement failed and nothing rolled back to a savepoint)
      // answers COMMIT with "ROLLBACK" and no error: never report that as committed.
      const ended = await client.query('COMMIT');
      if (ended.command !== 'COMMIT') throw new StorageError('INTERNAL', `the transaction was rolled back at COMMIT (${ended.command})`);
      return result;
    } catch (err) {
      broken ||= isConnectionFailure(err);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw storageErrorFromPg(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Counts an operation from the moment it is accepted (before it waits for
   * its turn or a connection) until it settles, so `close` waits for it.
   */
  async track<T>(operation: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await operation();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** Waits for the operations accepted (see `track`), then closes every connection. Returns how many were waited for. */
  async close(): Promise<number> {
    const waited = this.inFlight;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
    return waited;
  }
}
