/**
 * Who a process is, and whether the process named in a lock stamp still runs.
 *
 * A pid alone is not an identity: after a SIGKILL the kernel can hand the pid
 * to an unrelated process, and a lock judged by "pid alive" would then be kept
 * forever. So a stamp also carries the process start time (Linux: field 22 of
 * `/proc/<pid>/stat`, clock ticks since boot); a live pid with another start
 * time is a different process, i.e. the holder is dead.
 *
 * A pid (and a start time) only means something in the PID namespace and the
 * boot it was taken in. A container sharing the data volume has the host's
 * hostname but its own pids (its holder may be pid 1, which on the host is
 * init); two NFS clients may share a hostname; a rebooted machine reuses
 * every pid. So a stamp also carries the boot id
 * (`/proc/sys/kernel/random/boot_id`) and the PID namespace
 * (`readlink /proc/self/ns/pid`), and only a holder of the SAME hostname,
 * boot and namespace is judged by its pid: 'alive' or 'dead', exactly.
 * Anyone else is 'unknown', and only the lock's age frees its lock.
 *
 * Same hostname, other boot id: either this machine rebooted since (the holder
 * is certainly dead) or it is another machine with the same name (NFS clients
 * cloned from one image) whose holder may well be alive. Nothing in the stamp
 * tells the two apart, so it is 'unknown': after a reboot a leftover lock
 * costs one stale limit of waiting (the start-up sweep removes old ones),
 * which is cheap next to robbing a live holder on a twin host.
 *
 * A stamp written before these fields existed ("legacy") could come from any
 * namespace, so it is 'unknown' too.
 *
 * Reading `/proc` uses node:fs directly on purpose: it describes processes,
 * not the data directory, so it stays outside the FsSeam that tests fail.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { threadId as currentThreadId } from 'node:worker_threads';
import { errnoCode } from './fs-seam.js';

export interface ProcessIdentity {
  pid: number;
  hostname: string;
  /** clock ticks since boot (Linux); null where it cannot be read */
  startTime: number | null;
  threadId: number;
  /** names the boot (Linux); null where it cannot be read */
  bootId: string | null;
  /** names the PID namespace the pid belongs to, e.g. `pid:[4026531836]`; null where it cannot be read */
  pidNs: string | null;
}

/**
 * The identity fields a stamp must carry to be judged. `bootId` and `pidNs`
 * are absent (undefined) in stamps written before they existed.
 */
export type HolderIdentity = Pick<ProcessIdentity, 'pid' | 'hostname' | 'startTime'> & {
  threadId?: number;
  bootId?: string | null;
  pidNs?: string | null;
};

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

/** A /proc fact about this process, or null where it cannot be read (not Linux, a hardened /proc). */
function readProcFact(read: () => string): string | null {
  try {
    const value = read().trim();
    return value === '' ? null : value;
  } catch (err) {
    if (errnoCode(err) !== undefined) return null;
    throw err;
  }
}

// None of these change while a process runs (setns/unshare only move its
// children): read them once per thread.
let own: Pick<ProcessIdentity, 'startTime' | 'bootId' | 'pidNs'> | undefined;

export function currentProcess(): ProcessIdentity {
  own ??= {
    startTime: processStartTime(process.pid),
    bootId: readProcFact(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNs: readProcFact(() => readlinkSync('/proc/self/ns/pid')),
  };
  return { pid: process.pid, hostname: osHostname(), threadId: currentThreadId, ...own };
}

/**
 * Whether `stamp`'s pid names a process we can see: same hostname, same boot,
 * same PID namespace. Unreadable on both sides counts as the same only off
 * Linux (no namespaces there); on Linux it means /proc is missing or hidden,
 * and two such processes may well sit in different namespaces.
 */
export function sharesPidSpace(stamp: HolderIdentity): boolean {
  if (stamp.bootId === undefined || stamp.pidNs === undefined) return false; // legacy stamp
  const me = currentProcess();
  const same = (theirs: string | null, mine: string | null): boolean =>
    theirs === mine && (mine !== null || process.platform !== 'linux');
  return stamp.hostname === me.hostname && same(stamp.bootId, me.bootId) && same(stamp.pidNs, me.pidNs);
}

export interface HolderStateOptions {
  /**
   * Whether a thread of THIS process still runs. A stamp of our own pid and
   * start time but of another thread (e.g. a storage worker thread that died
   * and was replaced) cannot be judged from outside that thread; whoever
   * starts the threads can answer. Without it such a holder is 'unknown'
   * and only the lock's age frees it.
   */
  isThreadAlive?: (threadId: number) => boolean;
}

/**
 * - other host, other boot, other PID namespace, or a legacy stamp: 'unknown'
 *   (we cannot see its process; only age can free it);
 * - same host, boot and namespace: `kill(pid, 0)` ESRCH → 'dead', EPERM (someone else's process) → it exists;
 *   a zombie (killed, not yet reaped) → 'dead'; a live pid with another start
 *   time → 'dead' (the pid was reused after the holder died); the same start
 *   time → 'alive'; no start time to compare → 'unknown';
 * - our own pid: another thread is whatever `isThreadAlive` says ('unknown'
 *   without it).
 */
export function holderState(stamp: HolderIdentity, options: HolderStateOptions = {}): HolderState {
  if (!sharesPidSpace(stamp)) return 'unknown';
  // pid 0 and negative pids address process groups in kill(): never probe them.
  if (!isPid(stamp.pid)) return 'unknown';
  if (stamp.pid === process.pid) {
    const own = currentProcess().startTime;
    if (stamp.startTime !== null && own !== null && stamp.startTime !== own) return 'dead';
    if (stamp.threadId === undefined || stamp.threadId === currentThreadId) return 'alive';
    // Another thread of ours: only whoever runs the threads can tell.
    const threadAlive = options.isThreadAlive?.(stamp.threadId);
    return threadAlive === undefined ? 'unknown' : threadAlive ? 'alive' : 'dead';
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
  // 'alive' must be PROVEN (it shields a lock from age for good): with /proc
  // unreadable (not Linux, hidepid, …) or no start time in the stamp, the pid
  // may have been reused, so only age can decide.
  if (stat === null) return 'unknown';
  if (stat.state === 'Z' || stat.state === 'X') return 'dead';
  if (stamp.startTime === null) return 'unknown';
  return stat.startTime === stamp.startTime ? 'alive' : 'dead';
}

function isPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}
