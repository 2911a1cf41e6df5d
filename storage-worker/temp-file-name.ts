/**
 * Unique temp-file names for atomic writes: `<base>.tmp.<pid>.<threadId>.<seq>.<hex>`,
 * a sibling of the target (same directory, so the final rename never crosses
 * a file system).
 *
 * Why every part is there:
 * - pid: two processes (an old and a new server during hot reload, a script)
 *   write the same file; one fixed temp name (steno's `.media.json.tmp`) is
 *   exactly how they used to clobber each other's temp files;
 * - threadId: inside a worker thread the pid is shared with every other
 *   thread of the process, so it alone is not unique (write-file-atomic learned this);
 * - seq: a counter makes names from one thread distinct without relying on luck;
 * - random hex: a dead process's pid (and thread id, and counter) can be
 *   reused by a new one, and a name left behind must not collide with it.
 *
 * `parseTempName` reads the parts back so the leftover sweeper can remove the
 * temp files of dead processes and never those of live ones.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

export interface TempNameParts {
  /** base name of the file the temp file was meant to replace */
  target: string;
  pid: number;
  threadId: number;
  seq: number;
}

const TEMP_MARK = '.tmp.';
const TEMP_RE = /^(.+)\.tmp\.(\d+)\.(\d+)\.(\d+)\.([0-9a-f]{8,})$/;

// Module state is per thread (every worker thread loads its own copy), and
// the thread id covers that; within one thread the counter never repeats.
let seq = 0;

/** A fresh, never-before-returned temp path beside `targetPath`. */
export function makeTempName(targetPath: string): string {
  seq += 1;
  const name = `${basename(targetPath)}${TEMP_MARK}${process.pid}.${threadId}.${seq}.${randomBytes(4).toString('hex')}`;
  return join(dirname(targetPath), name);
}

/** The parts of a temp-file base name made by `makeTempName`, or null for any other name. */
export function parseTempName(name: string): TempNameParts | null {
  const m = TEMP_RE.exec(name);
  if (!m) return null;
  const pid = Number(m[2]);
  const thread = Number(m[3]);
  const n = Number(m[4]);
  if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(thread) || !Number.isSafeInteger(n)) return null;
  return { target: m[1]!, pid, threadId: thread, seq: n };
}
