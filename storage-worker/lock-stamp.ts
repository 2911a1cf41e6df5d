/**
 * The content of a lock file (and of a break claim, see project-lock.ts): who
 * holds it, since when, and a nonce that names this one acquisition. Also how
 * a lock file is published (complete, or not at all) and how one on disk is
 * observed: stamp (or "garbled"), inode, age.
 *
 * The nonce is what makes "is this still the lock I looked at?" answerable:
 * pids repeat, inode numbers are reused after unlink, mtimes are refreshed,
 * but a 128-bit random nonce never comes back.
 */
import { randomBytes } from 'node:crypto';
import type { FsSeam } from './fs-seam.js';
import { errnoCode } from './fs-seam.js';
import { currentProcess, type ProcessIdentity } from './process-identity.js';
import { publishFile, unlinkIfPresent } from './temp-file-publish.js';

/**
 * `bootId` and `pidNs` are optional only because stamps written before they
 * existed must still parse (and are then judged 'unknown', see process-identity.ts).
 */
export interface LockStamp extends Omit<ProcessIdentity, 'bootId' | 'pidNs'> {
  bootId?: string | null;
  pidNs?: string | null;
  /** ISO time the stamp was made (just before it was linked into place) */
  acquiredAt: string;
  /** 32 hex digits, unique per acquisition */
  nonce: string;
}

const NONCE_RE = /^[0-9a-f]{32}$/;

/** `identity` is a seam: a test stamps as "a process in another namespace" to make a holder 'unknown'. */
export function makeStamp(identity: ProcessIdentity = currentProcess()): LockStamp {
  return { ...identity, acquiredAt: new Date().toISOString(), nonce: randomBytes(16).toString('hex') };
}

export function serializeStamp(stamp: LockStamp): string {
  return `${JSON.stringify(stamp)}\n`;
}

/** The stamp in a lock file's bytes, or null when empty, truncated or not ours. */
export function parseStamp(bytes: Buffer): LockStamp | null {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const { pid, hostname, startTime, threadId, acquiredAt, nonce, bootId, pidNs } = v;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return null;
  if (typeof hostname !== 'string') return null;
  if (startTime !== null && !Number.isSafeInteger(startTime)) return null;
  if (!Number.isSafeInteger(threadId)) return null;
  if (typeof acquiredAt !== 'string') return null;
  if (typeof nonce !== 'string' || !NONCE_RE.test(nonce)) return null;
  if (!isOptionalName(bootId) || !isOptionalName(pidNs)) return null;
  const stamp: LockStamp = {
    pid: pid as number,
    hostname,
    startTime: startTime as number | null,
    threadId: threadId as number,
    acquiredAt,
    nonce,
  };
  // Absent stays absent: "legacy stamp" is a judgement of its own.
  if (bootId !== undefined) stamp.bootId = bootId;
  if (pidNs !== undefined) stamp.pidNs = pidNs;
  return stamp;
}

function isOptionalName(value: unknown): value is string | null | undefined {
  return value === undefined || value === null || typeof value === 'string';
}

/**
 * Creates `path` holding `stamp`, atomically complete (temp-file-publish.ts:
 * written, fsynced, linked onto `path`, temp removed). false: `path` exists.
 * The fsync is what makes a lock name that survives a power cut also hold
 * its stamp; without it the next start finds an empty lock it cannot judge
 * and waits the whole stale limit.
 */
export async function publishStamp(fs: FsSeam, path: string, stamp: LockStamp): Promise<boolean> {
  let cleanupError: { err: unknown } | undefined;
  const result = await publishFile(fs, path, serializeStamp(stamp), {
    by: 'link',
    mode: 0o644,
    onCleanupError: (err) => {
      cleanupError ??= { err };
    },
  });
  if (cleanupError !== undefined) {
    // We may just have made `path`: it is ours alone (alive, fresh), so undo
    // it rather than return holding a lock while reporting a failure.
    if (result === 'published') await unlinkIfPresent(fs, path);
    throw cleanupError.err;
  }
  return result === 'published';
}

/** A lock (or claim) file as seen at one moment. */
export interface ObservedLock {
  /** null: empty or garbled file (older tools, a crash during `open wx` + write) */
  stamp: LockStamp | null;
  /**
   * Names this very file instance: the stamp's nonce, or for a garbled file its
   * inode and mtime (safe in a file name: no dots, no slashes).
   */
  key: string;
  mtimeMs: number;
}

/**
 * Reads a lock file, or null when there is none. The stat is taken before and
 * after the read and must show the same inode, so the stamp and the mtime
 * belong to the same file (a lock is never rewritten in place, only replaced).
 */
export async function observeLock(fs: FsSeam, path: string): Promise<ObservedLock | null> {
  for (;;) {
    try {
      const before = await fs.stat(path);
      const bytes = await fs.readFile(path);
      const after = await fs.stat(path);
      if (before.ino !== after.ino) continue;
      const stamp = parseStamp(bytes);
      const mtimeMs = Number(after.mtimeNs / 1_000_000n);
      const key = stamp !== null ? stamp.nonce : `x${after.ino}-${after.mtimeNs}-${after.size}`;
      return { stamp, key, mtimeMs };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    }
  }
}

/** Where the right to remove the file instance `key` of lock `lockPath` is claimed. */
export function claimPath(lockPath: string, key: string): string {
  return `${lockPath}${CLAIM_MARK}${key}`;
}

export const CLAIM_MARK = '.break.';

/** For a claim file's base name, the lock's base name; null when it is not a claim. */
export function claimedLockName(name: string): string | null {
  const at = name.lastIndexOf(CLAIM_MARK);
  if (at <= 0) return null;
  const key = name.slice(at + CLAIM_MARK.length);
  return NONCE_RE.test(key) || /^x\d+-\d+-\d+$/.test(key) ? name.slice(0, at) : null;
}
