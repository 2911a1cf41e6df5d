/**
 * Waiter hints. A holder that keeps the lock over back-to-back commits (a
 * lease) and takes it again at once would starve a waiter in another process
 * that polls every few ms. A waiter therefore leaves `<lock>.wanted`; a holder
 * whose lease ran out looks for it before taking the lock again and, if it is
 * there, removes it and steps aside until someone else has taken the lock
 * (bounded). It is only a hint: lost, stale or duplicated hints cost at most
 * one short pause, never correctness.
 */
import { errnoCode, type FsSeam } from './fs-seam.js';

export function waiterHintPath(lockPath: string): string {
  return `${lockPath}.wanted`;
}

/** Leaves (or renews) the hint; never fails the wait. */
export async function announceWaiter(fs: FsSeam, lockPath: string): Promise<void> {
  try {
    const file = await fs.open(waiterHintPath(lockPath), 'w');
    await file.close();
  } catch (err) {
    // A hint that cannot be left only makes this waiter wait longer.
    if (errnoCode(err) === undefined) throw err;
  }
}

/** True (and the hint removed) when a waiter announced itself. */
export async function takeWaiterHint(fs: FsSeam, lockPath: string): Promise<boolean> {
  try {
    await fs.unlink(waiterHintPath(lockPath));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false; // nobody waiting
    throw err;
  }
}
