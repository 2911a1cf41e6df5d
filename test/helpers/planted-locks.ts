/**
 * Lock files as another process would have left them, for the lock tests
 * (project-lock, held-lock, lock-claim, waiter-hint).
 */
import { rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'uvu';
import { makeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

/** Plants a lock file atomically (temp + rename), as another process would have left it. */
export async function plant(path: string, content: string, ageMs = 0): Promise<void> {
  await writeFile(`${path}.planting`, content);
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    await utimes(`${path}.planting`, t, t);
  }
  await rename(`${path}.planting`, path);
}

export function stampOf(overrides: Partial<LockStamp>): LockStamp {
  return { ...makeStamp(), ...overrides };
}

/** A pid that certainly ran and certainly has ended (reaped). */
export async function deadPid(): Promise<number> {
  const child = new JsonLineChild('lock-io', []);
  const pid = child.pid;
  await child.exited;
  return pid;
}

/** Each test of `tests` runs in a fresh temp dir, handed over with the lock path in it; removed after. */
export function eachInLockDir(tests: Test, use: (lockPath: string, dir: string) => void): void {
  let dir = '';
  tests.before.each(async () => {
    dir = await makeTempDir('lock');
    use(join(dir, 'media.json.lock'), dir);
  });
  tests.after.each(async () => {
    await removeTempDir(dir);
  });
}
