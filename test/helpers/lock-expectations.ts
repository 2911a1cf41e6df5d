/** What the lock tests expect of an acquire that must not succeed. */
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import type { ProjectLock } from '../../storage-worker/project-lock.js';

/** Resolves to the LOCK_TIMEOUT an acquire ends with; fails the test if it gets the lock or fails otherwise. */
export async function expectLockTimeout(lock: ProjectLock): Promise<StorageError> {
  try {
    const handle = await lock.acquire();
    await handle.release();
    assert.unreachable(`acquire should have timed out, got the lock after ${handle.waitedMs} ms (tookOver ${handle.tookOver})`);
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    assert.is(err.code, 'LOCK_TIMEOUT', err.message);
    return err;
  }
  throw new Error('unreachable');
}
