import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFsError } from '../../storage-worker/fault-injection.js';
import { errnoCode } from '../../storage-worker/fs-seam.js';
import { backoffDelay, TRANSIENT_ERRNO_CODES, withRetry } from '../../storage-worker/retry-policy.js';

const R = suite('retry-policy');

const fast = { baseMs: 1, maxMs: 4 };

R('the transient set is exactly ENOENT, EPERM, EBUSY, EACCES, EAGAIN', () => {
  assert.equal([...TRANSIENT_ERRNO_CODES].sort(), ['EACCES', 'EAGAIN', 'EBUSY', 'ENOENT', 'EPERM']);
});

R('transient errors are retried until the call succeeds, each retry reported', async () => {
  const codes = ['EPERM', 'EBUSY', 'ENOENT', 'EACCES', 'EAGAIN'];
  const seen: Array<[string, number]> = [];
  let calls = 0;
  const result = await withRetry(
    async (attempt) => {
      calls += 1;
      assert.is(attempt, calls);
      const code = codes[attempt - 1];
      if (code) throw makeFsError(code, 'rename', 'a', 'b');
      return 'done';
    },
    { ...fast, attempts: 6, onRetry: (code, attempt, delayMs) => {
      assert.ok(delayMs >= 0 && delayMs <= fast.maxMs, `delay ${delayMs} within bounds`);
      seen.push([code, attempt]);
    } },
  );
  assert.is(result, 'done');
  assert.is(calls, 6);
  assert.equal(seen, codes.map((c, i) => [c, i + 1]));
});

R('persistent errors fail at once', async () => {
  for (const code of ['ENOSPC', 'EIO', 'EROFS', 'EDQUOT', 'EMFILE', 'EXDEV']) {
    let calls = 0;
    try {
      await withRetry(async () => {
        calls += 1;
        throw makeFsError(code, 'write', 'x');
      }, fast);
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.is(errnoCode(err), code);
    }
    assert.is(calls, 1, `${code} is not retried`);
  }
});

R('a transient error that persists gives up after `attempts` tries with the last error', async () => {
  let calls = 0;
  const started = Date.now();
  try {
    await withRetry(async () => {
      calls += 1;
      throw makeFsError('EBUSY', 'rename', 'a', `b${calls}`);
    }, { ...fast, attempts: 4 });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as { dest?: string }).dest, 'b4', 'the last error is the one rethrown');
  }
  assert.is(calls, 4);
  assert.ok(Date.now() - started < 1000);
});

R('backoff grows exponentially, is capped, and jitters within [step/2, step]', () => {
  assert.is(backoffDelay(1, 10, 1000, () => 0), 5);
  assert.is(backoffDelay(1, 10, 1000, () => 1), 10);
  assert.is(backoffDelay(3, 10, 1000, () => 1), 40);
  assert.is(backoffDelay(3, 10, 1000, () => 0), 20);
  assert.is(backoffDelay(30, 10, 250, () => 1), 250, 'capped at maxMs');
  assert.is(backoffDelay(30, 10, 250, () => 0), 125);
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, 10, 1000)));
  assert.ok(spread.size > 5, 'jitter spreads the delays');
});

R.run();
