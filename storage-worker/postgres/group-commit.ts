/**
 * Group commit: one process's writes to one project, in call order, many
 * callers per transaction. While a project's transaction runs, later writes
 * queue; when it ends, the queue goes out as the next transaction (at most
 * MAX_BATCH operations, in call order). One row lock, one COMMIT and so one
 * WAL flush serve the whole batch: the writes of one project queue behind
 * its row lock anyway, so batching costs a caller no extra wait.
 *
 * Each operation of a batch runs under its own SAVEPOINT. A refused one
 * (INVALID_INPUT, MEDIA_NOT_FOUND, a unique key) rolls back to it: only that
 * operation is undone and only its caller gets its error; the others see the
 * state as if it had never been called, as they would in one transaction
 * each. A failure of the transaction itself (the row lock, the connection,
 * COMMIT) fails every caller of the batch with the mapped error, and nothing
 * is answered before COMMIT returns: an acknowledged write is committed.
 *
 * Operations later in a batch see the effects of earlier ones (one
 * transaction, call order): a delete's in-use check sees the saves called
 * before it, as it would after their own commits.
 *
 * Call order matters beyond batching: two calls made in order would
 * otherwise race for pool connections and for the row lock, and a burst of
 * saves of one page could end with an older one. Queueing here also keeps a
 * busy project from parking every pooled connection on its lock.
 */
import type { StorageError } from '../../shared/errors.js';
import type { Database, Queryable } from './database.js';
import { isConnectionFailure, storageErrorFromPg } from './pg-errors.js';
import { requireProjectRow } from './project-row.js';

/**
 * Why 64: an operation that writes under a savepoint gets a subtransaction
 * id, and PostgreSQL caches 64 of them per transaction; past that, every
 * other session's snapshot has to look them up in pg_subtrans.
 */
export const MAX_BATCH = 64;

/** One write: its statements, run inside the batch's transaction after the project's row is locked. */
export type WriteOperation<T> = (q: Queryable) => Promise<T>;

interface Queued {
  operation: WriteOperation<unknown>;
  resolve(value: unknown): void;
  reject(error: StorageError): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: StorageError };

export class ProjectGroupCommit {
  /** A project is a key while its transaction runs; the value is what waits for the next one. */
  private readonly waiting = new Map<string, Queued[]>();

  constructor(private readonly db: Database) {}

  run<T>(projectId: string, operation: WriteOperation<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const queued: Queued = { operation, resolve: resolve as (value: unknown) => void, reject };
      const queue = this.waiting.get(projectId);
      if (queue) {
        queue.push(queued);
        return;
      }
      this.waiting.set(projectId, []);
      void this.commitUntilIdle(projectId, [queued]);
    });
  }

  /** Commits `batch`, then whatever queued meanwhile, until nothing waits. Never rejects: each caller is settled. */
  private async commitUntilIdle(projectId: string, first: Queued[]): Promise<void> {
    let batch = first;
    for (;;) {
      await this.commit(projectId, batch);
      const queue = this.waiting.get(projectId) ?? [];
      if (queue.length === 0) {
        this.waiting.delete(projectId);
        return;
      }
      batch = queue.splice(0, MAX_BATCH);
    }
  }

  private async commit(projectId: string, batch: Queued[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.db.transaction('write', async (q) => {
        await requireProjectRow(q, projectId, 'lock');
        // Alone in its transaction, an operation needs no savepoint: its refusal rolls back the
        // transaction, which holds nothing else (one round trip less for a caller that did not wait).
        if (batch.length === 1) return [{ ok: true, value: await batch[0]!.operation(q) }];
        return runEach(q, batch);
      });
    } catch (err) {
      const error = storageErrorFromPg(err);
      for (const queued of batch) queued.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) batch[i]!.resolve(outcome.value);
      else batch[i]!.reject(outcome.error);
    });
  }
}

/**
 * The operations of a batch in call order, each under its own savepoint. A
 * refusal rolls back to its savepoint and is that operation's outcome; a
 * failure of the connection, or of the rollback itself, is the
 * transaction's and throws.
 */
async function runEach(q: Queryable, batch: Queued[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  // The previous operation's RELEASE goes out with the next SAVEPOINT: one round trip per operation.
  let release = '';
  for (const queued of batch) {
    await q.query(`${release}SAVEPOINT operation`);
    try {
      outcomes.push({ ok: true, value: await queued.operation(q) });
      release = 'RELEASE SAVEPOINT operation; ';
    } catch (err) {
      if (isConnectionFailure(err)) throw err;
      await q.query('ROLLBACK TO SAVEPOINT operation; RELEASE SAVEPOINT operation');
      outcomes.push({ ok: false, error: storageErrorFromPg(err) });
      release = '';
    }
  }
  return outcomes;
}
