/**
 * `CoarseTimestampFs`: an `FsSeam` that reports file times the way a file
 * system with whole-second timestamps does (ext3, FAT/exFAT, HFS+, many
 * NFSv3/SMB exports) and every file under one inode number — the worst case
 * of ext4 handing a freed inode number to the next file. Under it, two
 * versions of a file with equal size written within one second have equal
 * stat signatures, which is exactly what freshness must not depend on.
 *
 * Tests only (`ServiceOptions.simulateCoarseTimestamps`); the suite also runs
 * the same scenario on a real loop-mounted ext4 made with 128-byte inodes
 * where the machine allows mounting.
 */
import type { BigIntStats } from 'node:fs';
import type { FsFile, FsSeam } from './fs-seam.js';

const SECOND_NS = 1_000_000_000n;
const SHARED_INO = 1n;

function coarse(stats: BigIntStats): BigIntStats {
  const floor = (ns: bigint) => ns - (ns % SECOND_NS);
  // Own properties on a copy: BigIntStats' fields are plain data, so an
  // object with the same prototype and adjusted fields behaves the same.
  const copy = Object.assign(Object.create(Object.getPrototypeOf(stats) as object) as BigIntStats, stats);
  copy.ino = SHARED_INO;
  copy.mtimeNs = floor(stats.mtimeNs);
  copy.ctimeNs = floor(stats.ctimeNs);
  copy.mtimeMs = copy.mtimeNs / 1_000_000n;
  copy.ctimeMs = copy.ctimeNs / 1_000_000n;
  copy.mtime = new Date(Number(copy.mtimeMs));
  copy.ctime = new Date(Number(copy.ctimeMs));
  return copy;
}

export class CoarseTimestampFs implements FsSeam {
  constructor(private readonly inner: FsSeam) {}

  async open(path: string, flags: string, mode?: number): Promise<FsFile> {
    const file = await this.inner.open(path, flags, mode);
    return {
      get fd() {
        return file.fd;
      },
      writeAll: (data) => file.writeAll(data),
      sync: () => file.sync(),
      stat: async () => coarse(await file.stat()),
      close: () => file.close(),
    };
  }
  readFile(path: string): Promise<Buffer> {
    return this.inner.readFile(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  link(existing: string, newPath: string): Promise<void> {
    return this.inner.link(existing, newPath);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  async stat(path: string): Promise<BigIntStats> {
    return coarse(await this.inner.stat(path));
  }
  mkdir(path: string): Promise<void> {
    return this.inner.mkdir(path);
  }
  readdir(path: string) {
    return this.inner.readdir(path);
  }
  rm(path: string): Promise<void> {
    return this.inner.rm(path);
  }
  utimes(path: string, atime: Date, mtime: Date): Promise<void> {
    return this.inner.utimes(path, atime, mtime);
  }
}
