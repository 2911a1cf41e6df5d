/**
 * `FaultyFs`: an `FsSeam` that fails chosen operations on purpose, so tests
 * can break any single step of a commit (open, write, fsync, rename, …) and
 * prove that cleanup and rollback happen. It wraps another seam (the real
 * file system by default) and consults a mutable list of `FaultSpec`s before
 * every operation, including the ones made on an open file (writeAll → 'write',
 * sync → 'fsync', stat → 'stat', close → 'close'), which match against the
 * path the file was opened with.
 *
 * Only ever installed when fault injection is enabled (tests); production uses
 * `realFs` directly and pays nothing for this.
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type { Dirent, BigIntStats } from 'node:fs';
import type { FaultSpec, FsOperation } from '../shared/storage-api.js';
import { realFs, type FsFile, type FsSeam } from './fs-seam.js';

/** Exit code of a thread ended by a 'crash' fault, so a test can tell it from other deaths. */
export const CRASH_EXIT_CODE = 70;

/** The error Node would throw: `code`, negative `errno`, `syscall`, `path` (and `dest` for two-path calls). */
export interface InjectedFsError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path: string;
  dest?: string;
  /** marks an error made by FaultyFs, so a test can tell it from a real one */
  injected: true;
}

/** The syscall name Node reports for each seam operation. */
const SYSCALL: Record<FsOperation, string> = {
  open: 'open',
  write: 'write',
  fsync: 'fsync',
  close: 'close',
  rename: 'rename',
  link: 'link',
  unlink: 'unlink',
  readFile: 'read',
  stat: 'stat',
  mkdir: 'mkdir',
  readdir: 'scandir',
  rm: 'rm',
  utimes: 'utime',
};

/** Builds an error shaped like Node's, e.g. `EPERM: operation not permitted, rename 'a' -> 'b'`. */
export function makeFsError(code: string, op: FsOperation, path: string, dest?: string): InjectedFsError {
  const errnoNumber = (osConstants.errno as Record<string, number | undefined>)[code];
  const errno = errnoNumber === undefined ? -1 : -errnoNumber;
  const description = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
  const syscall = SYSCALL[op];
  const where = dest === undefined ? `'${path}'` : `'${path}' -> '${dest}'`;
  const err = new Error(`${code}: ${description}, ${syscall} ${where}`) as InjectedFsError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  err.path = path;
  if (dest !== undefined) err.dest = dest;
  err.injected = true;
  return err;
}

export class FaultyFs implements FsSeam {
  private faults: FaultSpec[] = [];
  private firedCount = 0;

  constructor(
    private readonly inner: FsSeam = realFs,
    faults: FaultSpec[] = [],
  ) {
    this.inject(faults);
  }

  /** Adds faults after the ones already active; each is copied, so `times` counts down on our copy. */
  inject(faults: FaultSpec[]): void {
    for (const fault of faults) {
      if (fault.times !== undefined && fault.times <= 0) continue;
      this.faults.push({ ...fault });
    }
  }

  clear(): void {
    this.faults = [];
  }

  /** Faults still armed (copies, with their remaining `times`). */
  get active(): FaultSpec[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** How many faults have fired since this seam was made. */
  get fired(): number {
    return this.firedCount;
  }

  /**
   * Fires the first armed fault that matches `op` and, when it has
   * `pathIncludes`, one of the paths. Counting down happens before acting, so a
   * crash fault with `times: 1` is spent even in a thread that survives it.
   */
  private check(op: FsOperation, path: string, dest?: string): void {
    const index = this.faults.findIndex(
      (f) =>
        f.op === op &&
        (f.pathIncludes === undefined ||
          path.includes(f.pathIncludes) ||
          (dest !== undefined && dest.includes(f.pathIncludes))) &&
        (f.pathEndsWith === undefined ||
          path.endsWith(f.pathEndsWith) ||
          (dest !== undefined && dest.endsWith(f.pathEndsWith))),
    );
    if (index < 0) return;
    const fault = this.faults[index]!;
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.faults.splice(index, 1);
    }
    this.firedCount += 1;
    if (fault.action === 'crash') {
      // Inside a worker thread process.exit ends only that thread (the way the
      // tests kill the storage worker mid-commit); in a main thread it ends the
      // process. Either way nothing after this line runs.
      process.exit(CRASH_EXIT_CODE);
    }
    throw makeFsError(fault.code ?? 'EIO', op, path, dest);
  }

  async open(path: string, flags: string, mode?: number): Promise<FsFile> {
    this.check('open', path);
    const file = await this.inner.open(path, flags, mode);
    return new FaultyFile(file, path, (op) => this.check(op, path));
  }

  async readFile(path: string): Promise<Buffer> {
    this.check('readFile', path);
    return this.inner.readFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', from, to);
    return this.inner.rename(from, to);
  }

  async link(existing: string, newPath: string): Promise<void> {
    this.check('link', existing, newPath);
    return this.inner.link(existing, newPath);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    return this.inner.unlink(path);
  }

  async stat(path: string): Promise<BigIntStats> {
    this.check('stat', path);
    return this.inner.stat(path);
  }

  async mkdir(path: string): Promise<void> {
    this.check('mkdir', path);
    return this.inner.mkdir(path);
  }

  async readdir(path: string): Promise<Dirent[]> {
    this.check('readdir', path);
    return this.inner.readdir(path);
  }

  async rm(path: string): Promise<void> {
    this.check('rm', path);
    return this.inner.rm(path);
  }

  async utimes(path: string, atime: Date, mtime: Date): Promise<void> {
    this.check('utimes', path);
    return this.inner.utimes(path, atime, mtime);
  }
}

/** An open file whose operations consult the same fault list, matched on the path it was opened with. */
class FaultyFile implements FsFile {
  constructor(
    private readonly inner: FsFile,
    readonly path: string,
    private readonly check: (op: FsOperation) => void,
  ) {}

  get fd(): number {
    return this.inner.fd;
  }

  async writeAll(data: string | Uint8Array): Promise<void> {
    this.check('write');
    return this.inner.writeAll(data);
  }

  async sync(): Promise<void> {
    this.check('fsync');
    return this.inner.sync();
  }

  async stat(): Promise<BigIntStats> {
    this.check('stat');
    return this.inner.stat();
  }

  /**
   * A failed close still releases the descriptor (as close(2) does on Linux),
   * so an injected close fault cannot leak an fd into the test process.
   */
  async close(): Promise<void> {
    try {
      this.check('close');
    } catch (err) {
      await this.inner.close();
      throw err;
    }
    return this.inner.close();
  }
}
