/**
 * The crash model: from a recorded op log (recording-fs.ts) and the image the
 * log started from, every disk image a crash could leave — in the spirit of
 * ALICE's abstract persistence model, for POSIX on ext4 (data=ordered).
 *
 * A crash at point k means: ops 0..k-1 had completed, nothing after ran.
 * Of those k ops, what reached the disk is chosen independently per
 * directory (names) and per inode (bytes), within these rules:
 *
 * NAMES (create, rename, link, unlink, mkdir — each belongs to the directory
 * holding the name; a rename across directories is refused, the code under
 * test never does one):
 *  N1. The name ops of one directory persist as a *prefix* of that directory's
 *      ops in log order. Why: ext4 journals metadata in order and each
 *      operation is atomic (a rename is there or not, never half); a later
 *      name op of a directory is never on disk without an earlier one.
 *      Conservative beyond ext4: directories are independent of each other
 *      (ext4 commits one journal for all of them, so it would keep fewer
 *      combinations than we explore).
 *  N2. A directory fsync at index i makes every earlier name op of that
 *      directory durable. A file fsync does NOT persist the file's name
 *      (POSIX does not promise it; ext4 often does — we assume less).
 *  N3. A name whose parent directory is not on disk is not on disk.
 * BYTES (write, truncate — each belongs to an inode, whatever its names):
 *  B1. An fsync of the inode at index i makes all its earlier data durable.
 *  B2. Data written after the inode's last fsync in the prefix may be lost,
 *      wholly or in part, independently of the names (ext4 delayed allocation:
 *      a renamed-in file that was never fsynced can come back empty). What
 *      survives is a prefix of those bytes in write order (data=ordered never
 *      shows stale blocks or garbage), cut at a few chosen points:
 *      none / half / all by default; deep mode adds 1 byte, a quarter and all
 *      but one byte.
 * Not modelled: mtimes (utimes), fsync failures, another process writing.
 * Assumed: the log's order is the order the kernel ran the ops. It is the
 * order they completed in (recording-fs.ts); ops issued concurrently (a
 * batch's content files are written in parallel) may have run the other way
 * round, and then a state where a later-logged rename of one directory
 * persisted without an earlier-logged one is missed. Their directory is
 * fsynced before anything is acknowledged, so only unacknowledged states
 * are concerned.
 *
 * States are produced for every crash point 0..n and every combination of
 * the per-directory choices and, for each, of the per-inode choices of the
 * inodes some name reaches (an unnamed inode's bytes make no other state).
 */
import { dirname } from 'node:path';
import type { RecordedOp } from '../helpers/recording-fs.js';
import type { DiskImage } from './disk-image.js';

export interface CrashModelOptions {
  /** more cut points for lost data (B2) */
  deep: boolean;
}

export interface CrashState {
  /** ops 0..point-1 had completed */
  point: number;
  /** which choices made this state, for a readable violation */
  choices: string;
  image: DiskImage;
}

type NameOp = Extract<RecordedOp, { kind: 'create' | 'rename' | 'link' | 'unlink' | 'mkdir' }>;
type DataOp = Extract<RecordedOp, { kind: 'write' | 'truncate' }>;

function isNameOp(op: RecordedOp): op is NameOp {
  return op.kind === 'create' || op.kind === 'rename' || op.kind === 'link' || op.kind === 'unlink' || op.kind === 'mkdir';
}

const parentOf = (path: string): string => dirname(path);

/** The directory whose entries a name op changes. */
function directoryOf(op: NameOp): string {
  if (op.kind === 'rename' || op.kind === 'link') {
    const dir = parentOf(op.to);
    if (parentOf(op.from) !== dir) throw new Error(`crash model: ${op.kind} across directories is not modelled (${op.from} -> ${op.to})`);
    return dir;
  }
  return parentOf(op.path);
}

/** The image with no crash after ops 0..point-1: what a reader saw at that moment. */
export function logicalImage(initial: DiskImage, log: readonly RecordedOp[], point: number): DiskImage {
  const prefix = log.slice(0, point);
  const names = prefix.map((op, i) => [i, op] as const).filter(([, op]) => isNameOp(op)).map(([i]) => i);
  const data = new Map<number, { index: number; op: DataOp }[]>();
  prefix.forEach((op, index) => {
    if (op.kind === 'write' || op.kind === 'truncate') data.set(op.ino, [...(data.get(op.ino) ?? []), { index, op }]);
  });
  const bytes = new Map<number, Uint8Array>();
  for (const [ino, ops] of data) bytes.set(ino, applyData(initial.data.get(ino), ops.map((o) => o.op), Infinity));
  return withData(initial, replayNames(initial, prefix, new Set(names)), bytes);
}

export function* crashStates(initial: DiskImage, log: readonly RecordedOp[], options: CrashModelOptions): Generator<CrashState> {
  for (let point = 0; point <= log.length; point++) yield* statesAt(initial, log, point, options);
}

function* statesAt(initial: DiskImage, log: readonly RecordedOp[], point: number, options: CrashModelOptions): Generator<CrashState> {
  const prefix = log.slice(0, point);
  // Per directory: its name ops (indices) and how many of them are durable (N1, N2).
  const dirs = new Map<string, { ops: number[]; durable: number }>();
  // Per inode: its data ops, and how many are durable (B1).
  const inodes = new Map<number, { ops: DataOp[]; durable: number }>();
  prefix.forEach((op, index) => {
    if (isNameOp(op)) {
      const dir = directoryOf(op);
      const entry = dirs.get(dir) ?? { ops: [], durable: 0 };
      entry.ops.push(index);
      dirs.set(dir, entry);
    } else if (op.kind === 'dirfsync') {
      const entry = dirs.get(op.path);
      if (entry) entry.durable = entry.ops.length;
    } else if (op.kind === 'write' || op.kind === 'truncate') {
      const entry = inodes.get(op.ino) ?? { ops: [], durable: 0 };
      entry.ops.push(op);
      inodes.set(op.ino, entry);
    } else if (op.kind === 'fsync') {
      const entry = inodes.get(op.ino);
      if (entry) entry.durable = entry.ops.length;
    }
  });

  // One axis per directory with undurable name ops; then, for each way the
  // names came out, one axis per *named* inode with undurable data (the bytes
  // of an inode no name reaches cannot be told apart: no duplicate states).
  const dirAxes: Axis[] = [];
  const dirOps: Array<{ ops: number[]; durable: number }> = [];
  for (const [dir, entry] of dirs) {
    if (entry.durable === entry.ops.length) {
      dirOps.push(entry); // fixed: all of them
      continue;
    }
    dirAxes.push({ label: dir, options: range(entry.durable, entry.ops.length).map(String), entry });
  }
  const cuts = options.deep ? ['none', 'one', 'quarter', 'half', 'all-but-one', 'all'] : ['none', 'half', 'all'];
  for (const nameChoice of combinations(dirAxes)) {
    const keptNames = new Set<number>();
    for (const { ops } of dirOps) for (const i of ops) keptNames.add(i);
    dirAxes.forEach((axis, i) => {
      for (const index of axis.entry!.ops.slice(0, Number(axis.options[nameChoice[i]!]))) keptNames.add(index);
    });
    const names = replayNames(initial, prefix, keptNames);
    const named = new Set(names.files.values());
    const inoAxes: Axis[] = [];
    const durableBytes = new Map<number, Uint8Array>();
    for (const [ino, { ops, durable }] of inodes) {
      if (!named.has(ino)) continue;
      durableBytes.set(ino, applyData(initial.data.get(ino), ops.slice(0, durable), Infinity));
      if (durable < ops.length) inoAxes.push({ label: `ino${ino}`, options: cuts, ino });
    }
    for (const dataChoice of combinations(inoAxes)) {
      const bytes = new Map(durableBytes);
      inoAxes.forEach((axis, i) => {
        const { ops, durable } = inodes.get(axis.ino!)!;
        const pending = ops.slice(durable);
        const pendingBytes = pending.reduce((n, op) => n + (op.kind === 'write' ? op.data.byteLength : 0), 0);
        bytes.set(axis.ino!, applyData(durableBytes.get(axis.ino!), pending, cutBytes(axis.options[dataChoice[i]!]!, pendingBytes)));
      });
      const label =
        [...dirAxes.map((a, i) => `${a.label}=${a.options[nameChoice[i]!]}`), ...inoAxes.map((a, i) => `${a.label}=${a.options[dataChoice[i]!]}`)].join(' ') ||
        'all durable';
      yield { point, choices: label, image: withData(initial, names, bytes) };
    }
  }
}

/** One choice among persistence options; `entry` / `ino` say what it is about. */
interface Axis {
  label: string;
  options: string[];
  entry?: { ops: number[]; durable: number };
  ino?: number;
}

/** Every combination of one option per axis (mixed radix); one empty combination when there are no axes. */
function* combinations(axes: readonly Axis[]): Generator<number[]> {
  const choice = axes.map(() => 0);
  for (;;) {
    yield [...choice];
    let i = 0;
    for (; i < axes.length; i++) {
      choice[i]! += 1;
      if (choice[i]! < axes[i]!.options.length) break;
      choice[i] = 0;
    }
    if (i === axes.length) return;
  }
}

function cutBytes(cut: string, pending: number): number {
  switch (cut) {
    case 'none':
      return 0;
    case 'one':
      return Math.min(1, pending);
    case 'quarter':
      return Math.floor(pending / 4);
    case 'half':
      return Math.floor(pending / 2);
    case 'all-but-one':
      return Math.max(0, pending - 1);
    default:
      return Infinity;
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** An inode's bytes after `ops`, of which at most `budget` written bytes land (a prefix, in order). */
function applyData(initial: Uint8Array | undefined, ops: readonly DataOp[], budget: number): Uint8Array {
  let buf = Buffer.from(initial ?? new Uint8Array());
  let left = budget;
  for (const op of ops) {
    if (op.kind === 'truncate') {
      buf = Buffer.alloc(0);
      continue;
    }
    if (left <= 0) break;
    const part = op.data.subarray(0, Math.min(op.data.byteLength, left));
    left -= part.byteLength;
    const end = op.offset + part.byteLength;
    if (end > buf.byteLength) {
      const grown = Buffer.alloc(end);
      buf.copy(grown);
      buf = grown;
    }
    Buffer.from(part).copy(buf, op.offset);
  }
  return buf;
}

/** The initial names with the kept name ops replayed in log order (N3 applied). */
function replayNames(initial: DiskImage, prefix: readonly RecordedOp[], keptNames: Set<number>): Pick<DiskImage, 'dirs' | 'files'> {
  const dirs = new Set(initial.dirs);
  const files = new Map(initial.files);
  prefix.forEach((op, index) => {
    if (!keptNames.has(index)) return;
    switch (op.kind) {
      case 'create':
        files.set(op.path, op.ino);
        break;
      case 'mkdir':
        dirs.add(op.path);
        break;
      case 'rename': {
        const ino = files.get(op.from);
        // N1 keeps the op that made `from` whenever it keeps this one (same directory).
        if (ino === undefined) throw new Error(`crash model: rename of a missing name ${op.from}`);
        files.delete(op.from);
        files.set(op.to, ino);
        break;
      }
      case 'link': {
        const ino = files.get(op.from);
        if (ino === undefined) throw new Error(`crash model: link of a missing name ${op.from}`);
        files.set(op.to, ino);
        break;
      }
      case 'unlink':
        files.delete(op.path);
        break;
      default:
        break;
    }
  });
  for (const path of [...files.keys()]) if (!dirs.has(parentOf(path))) files.delete(path); // N3
  return { dirs, files };
}

/** The image of those names, each inode with its bytes (initial bytes when no op touched it). */
function withData(initial: DiskImage, names: Pick<DiskImage, 'dirs' | 'files'>, bytes: Map<number, Uint8Array>): DiskImage {
  const data = new Map<number, Uint8Array>();
  for (const ino of new Set(names.files.values())) data.set(ino, bytes.get(ino) ?? initial.data.get(ino) ?? new Uint8Array());
  return { dirs: new Set(names.dirs), files: new Map(names.files), data };
}
