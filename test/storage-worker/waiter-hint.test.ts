import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { realFs } from '../../storage-worker/fs-seam.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { takeWaiterHint, waiterHintPath } from '../../storage-worker/waiter-hint.js';
import { eachInLockDir } from '../helpers/planted-locks.js';

const X = suite('waiter-hint');

let lockPath = '';
eachInLockDir(X, (path) => {
  lockPath = path;
});

X('a waiter leaves a hint that a holder can take once; without a waiter there is none', async () => {
  assert.is(await takeWaiterHint(realFs, lockPath), false);
  const held = await new ProjectLock(lockPath).acquire();
  const waiting = new ProjectLock(lockPath, { timeoutMs: 2000 }).acquire();
  for (let i = 0; i < 200 && !(await stat(waiterHintPath(lockPath)).then(() => true, () => false)); i++) await sleep(5);
  assert.is(await takeWaiterHint(realFs, lockPath), true, 'the waiter announced itself');
  assert.is(await takeWaiterHint(realFs, lockPath), false, 'a hint is taken once');
  await held.release();
  const second = await waiting;
  await second.release();
});

X.run();
