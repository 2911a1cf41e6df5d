/**
 * Who a process is, and whether the process named in a lock stamp still runs.
 *
 * A pid alone is not an identity: after a SIGKILL the kernel can hand the pid
 * to an unrelated process, and a lock judged by "pid alive" would then be kept
 * forever. So a stamp also carries the process start time (Linux: field 22 of
 * `/proc/<pid>/stat`, clock ticks since boot) and the hostname; a live pid with
 * another start time is a different process, i.e. the holder is dead.
 *
 * Reading `/proc` uses node:fs directly on purpose: it describes processes,
 * not the data directory, so it stays outside the FsSeam that tests fail.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { threadId as currentThreadId } from 'node:worker_threads';
import { errnoCode } from './fs-seam.js';

export interface ProcessIdentity {
  pid: number;
  hostname: string;
  /** clock ticks since boot (Linux); null where it cannot be read */
  startTime: number | null;
  threadId: number;
}

/** The identity fields a stamp must carry to be judged. */
export type HolderIdentity = Pick<ProcessIdentity, 'pid' | 'hostname' | 'startTime'> & { threadId?: number };

export type HolderState = 'alive' | 'dead' | 'unknown';

export interface ProcStat {
  /** field 3: R, S, D, Z (zombie), X (dead), … */
  state: string;
  /** field 22 */
  startTime: number;
}

/**
 * Parses the text of `/proc/<pid>/stat`. Field 2 (comm) is the executable name
 * in parentheses and may itself contain spaces and parentheses (`(a) (b)`), so
 * the fields after it are counted from the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After ") " come fields 3, 4, …: field n is at index n - 3.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const state = fields[0];
  const start = Number(fields[22 - 3]);
  if (state === undefined || state.length === 0 || !Number.isSafeInteger(start) || start < 0) return null;
  return { state, startTime: start };
}

function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    // ENOENT: no such process, or no /proc (not Linux); ESRCH: it exited while
    // we read; EACCES/EPERM: a hardened /proc. In every case: cannot tell.
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR') {
      return null;
    }
    throw err;
  }
  return parseProcStat(text);
}

/** Start time of a process (clock ticks since boot), or null when unknown. */
export function processStartTime(pid: number): number | null {
  if (!isPid(pid)) return null;
  return readProcStat(pid)?.startTime ?? null;
}

// Our own start time never changes: read it once per thread.
let ownStartTime: number | null | undefined;

export function currentProcess(): ProcessIdentity {
  if (ownStartTime === undefined) ownStartTime = processStartTime(process.pid);
  return { pid: process.pid, hostname: osHostname(), startTime: ownStartTime, threadId: currentThreadId };
}

export interface HolderStateOptions {
  /**
   * Whether a thread of THIS process still runs. A stamp of our own pid and
   * start time but of another thread (e.g. a storage worker thread that died
   * and was replaced) cannot be judged from outside that thread; whoever
   * starts the threads can answer. Without it such a holder counts as alive
   * and only the lock's age frees it.
   */
  isThreadAlive?: (threadId: number) => boolean;
}

/**
 * - other host: 'unknown' (we cannot see its processes; only age can free it);
 * - same host: `kill(pid, 0)` ESRCH → 'dead', EPERM (someone else's process) → it exists;
 *   a zombie (killed, not yet reaped) → 'dead'; a live pid with another start
 *   time → 'dead' (the pid was reused after the holder died).
 */
export function holderState(stamp: HolderIdentity, options: HolderStateOptions = {}): HolderState {
  if (stamp.hostname !== osHostname()) return 'unknown';
  // pid 0 and negative pids address process groups in kill(): never probe them.
  if (!isPid(stamp.pid)) return 'unknown';
  if (stamp.pid === process.pid) {
    const own = currentProcess().startTime;
    if (stamp.startTime !== null && own !== null && stamp.startTime !== own) return 'dead';
    if (
      stamp.threadId !== undefined &&
      stamp.threadId !== currentThreadId &&
      options.isThreadAlive?.(stamp.threadId) === false
    ) {
      return 'dead';
    }
    return 'alive';
  }
  try {
    process.kill(stamp.pid, 0);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ESRCH') return 'dead';
    // EPERM: the process exists but belongs to another user.
    if (code !== 'EPERM') return 'unknown';
  }
  const stat = readProcStat(stamp.pid);
  // /proc unreadable (not Linux, hidepid, …): the pid exists, trust it.
  if (stat === null) return 'alive';
  if (stat.state === 'Z' || stat.state === 'X') return 'dead';
  if (stamp.startTime !== null && stat.startTime !== stamp.startTime) return 'dead';
  return 'alive';
}

function isPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}
