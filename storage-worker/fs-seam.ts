/**
 * The file-I/O seam. Every file operation of the storage worker (media.json,
 * content files, lock files, sweeps) goes through an `FsSeam`, never through
 * `node:fs` directly, so tests can fail any single step (open, write, fsync,
 * rename, …) with a chosen errno and prove cleanup and rollback — the way
 * write-file-atomic and proper-lockfile test themselves.
 *
 * `realFs` is the production implementation; `FaultyFs` (fault-injection)
 * wraps it when fault injection is enabled.
 */
import * as fsp from 'node:fs/promises';
import type { Dirent, Stats, BigIntStats } from 'node:fs';

export interface FsFile {
  readonly fd: number;
  /** Writes all of `data` at the current position (loops on short writes). */
  writeAll(data: string | Uint8Array): Promise<void>;
  sync(): Promise<void>;
  stat(): Promise<BigIntStats>;
  close(): Promise<void>;
}

export interface FsSeam {
  /** flags as in fs.open: 'wx' exclusive create, 'r' read (directories too, for fsync) */
  open(path: string, flags: string, mode?: number): Promise<FsFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  stat(path: string): Promise<BigIntStats>;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<Dirent[]>;
  rm(path: string): Promise<void>;
  utimes(path: string, atime: Date, mtime: Date): Promise<void>;
}

class RealFile implements FsFile {
  constructor(private readonly handle: fsp.FileHandle) {}
  get fd(): number {
    return this.handle.fd;
  }
  async writeAll(data: string | Uint8Array): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) {
      const { bytesWritten } = await this.handle.write(buf, off, buf.byteLength - off);
      off += bytesWritten;
    }
  }
  sync(): Promise<void> {
    return this.handle.sync();
  }
  stat(): Promise<BigIntStats> {
    return this.handle.stat({ bigint: true });
  }
  close(): Promise<void> {
    return this.handle.close();
  }
}

export const realFs: FsSeam = {
  async open(path, flags, mode) {
    return new RealFile(await fsp.open(path, flags, mode));
  },
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  link: (existing, newPath) => fsp.link(existing, newPath),
  unlink: (path) => fsp.unlink(path),
  stat: (path) => fsp.stat(path, { bigint: true }),
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true });
  },
  readdir: (path) => fsp.readdir(path, { withFileTypes: true }),
  rm: (path) => fsp.rm(path, { recursive: true, force: true }),
  utimes: (path, atime, mtime) => fsp.utimes(path, atime, mtime),
};

// One rule, one place: the server needs it too, so it lives in shared/.
export { errnoCode } from '../shared/errno.js';

export type { Stats };
