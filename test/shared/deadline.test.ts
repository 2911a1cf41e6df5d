import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDeadline } from '../../shared/deadline.js';

const T = suite('deadline');

const never = new Promise<string>(() => undefined);
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

T('an answer before the deadline is the answer, and leaves no timer behind', async () => {
  // Many calls, so the count tells their timers apart from any other timer of the process.
  const answers = Array.from({ length: 50 }, () => withDeadline(Promise.resolve('done'), 60_000, () => 'late'));
  const during = timers();
  assert.equal(await Promise.all(answers), Array(50).fill('done'));
  assert.ok(timers() <= during - 50, `${during - timers()} of 50 timers cleared`);
});

T('a refusal before the deadline is the refusal', async () => {
  try {
    await withDeadline(Promise.reject(new Error('refused')), 60_000, () => 'late');
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.instance(err, Error);
    assert.is((err as Error).message, 'refused');
  }
});

T('no answer: the expiry value', async () => {
  assert.is(await withDeadline(never, 1, () => undefined), undefined);
});

T('no answer: the error the expiry throws', async () => {
  try {
    await withDeadline(never, 1, () => {
      throw new RangeError('too slow');
    });
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.instance(err, RangeError);
    assert.is((err as Error).message, 'too slow');
  }
});

T.run();
