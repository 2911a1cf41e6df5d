/**
 * Test helpers for StorageError. uvu formats a failure's `details` as a
 * string; a StorageError's `details` is an object, which makes uvu's
 * formatter throw and swallow the failure (the summary then shows "(0 / 1)"
 * with no message — test/run.ts still counts it failed). `readable` rethrows
 * such an error plainly so its code and message are shown.
 */
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';

export function readable<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      const plain = new Error(`${err.code}: ${err.message} ${JSON.stringify(err.details ?? {})}`, { cause: err });
      if (err.stack) plain.stack = err.stack;
      throw plain;
    }
  };
}

/** The StorageError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export function rejection(promise: Promise<unknown>): Promise<StorageError> {
  return rejectionOf(promise, StorageError);
}

/** The error of class `type` a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, type);
    return err as E;
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}
