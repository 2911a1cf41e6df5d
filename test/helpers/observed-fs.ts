/**
 * An `FsSeam` that records every file operation it passes on, in the order
 * they completed, and lets a test act before one happens (fail it, or hold
 * it until released). Tests use the record to prove orderings the page cache
 * hides — "the temp file and the directory were fsynced before the promise
 * resolved" — and to count lock acquisitions, never wall-clock thresholds.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import type { FsOperation } from '../../shared/storage-api.js';
import { realFs, type FsFile, type FsSeam } from '../../storage-worker/fs-seam.js';

export interface RecordedOp {
  op: FsOperation | 'mark';
  path: string;
  dest?: string;
  /** the flags of an open */
  flags?: string;
}

/** Runs before an operation: throw to fail it, or return a promise to hold it. */
export type BeforeHook = (op: FsOperation, path: string, dest?: string) => void | Promise<void>;

export class ObservedFs implements FsSeam {
  readonly log: RecordedOp[] = [];
  before: BeforeHook | null = null;

  constructor(private readonly inner: FsSeam = realFs) {}

  /** Adds a note to the log (e.g. "resolved") so orderings against it can be checked. */
  mark(label: string): void {
    this.log.push({ op: 'mark', path: label });
  }

  /** Index of the first entry after `from` matching `match`, or -1. */
  indexOf(match: (entry: RecordedOp) => boolean, from = 0): number {
    for (let i = from; i < this.log.length; i++) if (match(this.log[i]!)) return i;
    return -1;
  }

  private async run<T>(entry: RecordedOp, act: () => Promise<T>): Promise<T> {
    await this.before?.(entry.op as FsOperation, entry.path, entry.dest);
    const result = await act();
    this.log.push(entry);
    return result;
  }

  async open(path: string, flags: string, mode?: number): Promise<FsFile> {
    const file = await this.run({ op: 'open', path, flags }, () => this.inner.open(path, flags, mode));
    return new RecordingFile(file, path, (entry, act) => this.run(entry, act));
  }
  readFile(path: string): Promise<Buffer> {
    return this.run({ op: 'readFile', path }, () => this.inner.readFile(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.run({ op: 'rename', path: from, dest: to }, () => this.inner.rename(from, to));
  }
  link(existing: string, newPath: string): Promise<void> {
    return this.run({ op: 'link', path: existing, dest: newPath }, () => this.inner.link(existing, newPath));
  }
  unlink(path: string): Promise<void> {
    return this.run({ op: 'unlink', path }, () => this.inner.unlink(path));
  }
  stat(path: string): Promise<BigIntStats> {
    return this.run({ op: 'stat', path }, () => this.inner.stat(path));
  }
  mkdir(path: string): Promise<void> {
    return this.run({ op: 'mkdir', path }, () => this.inner.mkdir(path));
  }
  readdir(path: string): Promise<Dirent[]> {
    return this.run({ op: 'readdir', path }, () => this.inner.readdir(path));
  }
  rm(path: string): Promise<void> {
    return this.run({ op: 'rm', path }, () => this.inner.rm(path));
  }
  utimes(path: string, atime: Date, mtime: Date): Promise<void> {
    return this.run({ op: 'utimes', path }, () => this.inner.utimes(path, atime, mtime));
  }
}

type Run = <T>(entry: RecordedOp, act: () => Promise<T>) => Promise<T>;

class RecordingFile implements FsFile {
  constructor(
    private readonly inner: FsFile,
    private readonly path: string,
    private readonly run: Run,
  ) {}
  get fd(): number {
    return this.inner.fd;
  }
  writeAll(data: string | Uint8Array): Promise<void> {
    return this.run({ op: 'write', path: this.path }, () => this.inner.writeAll(data));
  }
  sync(): Promise<void> {
    return this.run({ op: 'fsync', path: this.path }, () => this.inner.sync());
  }
  stat(): Promise<BigIntStats> {
    return this.run({ op: 'stat', path: this.path }, () => this.inner.stat());
  }
  close(): Promise<void> {
    return this.run({ op: 'close', path: this.path }, () => this.inner.close());
  }
}

/** The real file system, pushing the name of every seam method called onto `ops` (to prove what a module calls). */
export function namingFs(ops: string[]): FsSeam {
  return Object.fromEntries(
    Object.entries(realFs).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        ops.push(name);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FsSeam;
}
