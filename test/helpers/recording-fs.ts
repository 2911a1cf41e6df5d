/**
 * `RecordingFs`: an `FsSeam` that runs every operation on the real file
 * system and logs, in order, each one that changes what is on disk (creating
 * open, write with its bytes, file fsync, directory fsync, rename, link,
 * unlink, mkdir, utimes) — the trace a crash-state explorer replays (ALICE,
 * CrashMonkey). Reads (readFile, stat, readdir, opening for read) are not
 * logged: they change nothing a crash could keep or lose.
 *
 * Only paths under `root` are logged, relative to it. Files are named by a
 * *logical* inode number, not the real one: ext4 hands a freed inode number
 * straight to the next new file, so real numbers would merge two different
 * files of one trace. The recorder follows names itself (create, rename,
 * link, unlink) starting from the snapshot it is given.
 *
 * An op is logged when it completes (the promise of the real call settled),
 * so the index of the log at which a caller's promise resolves says exactly
 * which ops had happened by then ("acknowledged before the crash point").
 * A failed real op is not logged: it changed nothing (none of the ops used
 * here half-succeed).
 */
import { dirname, relative, sep } from 'node:path';
import type { BigIntStats, Dirent } from 'node:fs';
import { realFs, type FsFile, type FsSeam } from '../../storage-worker/fs-seam.js';

/** One logged op. `path`s are relative to the recorder's root, with '/' separators. */
export type RecordedOp =
  | { kind: 'create'; path: string; ino: number }
  | { kind: 'truncate'; ino: number }
  | { kind: 'write'; ino: number; offset: number; data: Uint8Array }
  | { kind: 'fsync'; ino: number }
  | { kind: 'dirfsync'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'link'; from: string; to: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'mkdir'; path: string }
  | { kind: 'utimes'; path: string };

/** The names the recorder starts from: file path → logical inode, and the directories. */
export interface NameTable {
  files: Map<string, number>;
  dirs: Set<string>;
  nextIno: number;
}

export class RecordingFs implements FsSeam {
  readonly log: RecordedOp[] = [];
  private readonly files: Map<string, number>;
  private readonly dirs: Set<string>;
  private nextIno: number;

  constructor(
    private readonly root: string,
    names: NameTable,
    private readonly inner: FsSeam = realFs,
  ) {
    this.files = new Map(names.files);
    this.dirs = new Set(names.dirs);
    this.nextIno = names.nextIno;
  }

  /** The path relative to root, or null when outside it (not logged). */
  private rel(path: string): string | null {
    const r = relative(this.root, path);
    if (r === '') return '.';
    if (r.startsWith('..')) return null;
    return r.split(sep).join('/');
  }

  async open(path: string, flags: string, mode?: number): Promise<FsFile> {
    const rel = this.rel(path);
    const file = await this.inner.open(path, flags, mode);
    if (rel === null) return file;
    if (this.dirs.has(rel)) return new RecordingFile(file, this.log, { dir: rel });
    let ino = this.files.get(rel);
    // Any mode but plain reading can write ('w', 'wx', 'a', 'r+', …); only those with w/a/x can create.
    if (!/^rs?$/.test(flags)) {
      if (ino === undefined) {
        ino = this.nextIno++;
        this.files.set(rel, ino);
        this.log.push({ kind: 'create', path: rel, ino });
      } else if (flags.includes('w')) {
        this.log.push({ kind: 'truncate', ino });
      }
    }
    if (ino === undefined) return file; // a read of a file the trace does not know: nothing to log
    // Appends land at the end, whatever was there.
    const start = flags.includes('a') ? Number((await file.stat()).size) : 0;
    return new RecordingFile(file, this.log, { ino }, start);
  }

  readFile(path: string): Promise<Buffer> {
    return this.inner.readFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    const [f, t] = [this.rel(from), this.rel(to)];
    if (f === null || t === null) return;
    const ino = this.files.get(f);
    if (ino === undefined) throw new Error(`recording: rename of a file the trace does not know: ${f}`);
    if (this.files.get(t) === ino) return; // rename(2) between two links of one inode does nothing
    this.files.delete(f);
    this.files.set(t, ino);
    this.log.push({ kind: 'rename', from: f, to: t });
  }

  async link(existing: string, newPath: string): Promise<void> {
    await this.inner.link(existing, newPath);
    const [f, t] = [this.rel(existing), this.rel(newPath)];
    if (f === null || t === null) return;
    const ino = this.files.get(f);
    if (ino === undefined) throw new Error(`recording: link of a file the trace does not know: ${f}`);
    this.files.set(t, ino);
    this.log.push({ kind: 'link', from: f, to: t });
  }

  async unlink(path: string): Promise<void> {
    await this.inner.unlink(path);
    const rel = this.rel(path);
    if (rel === null) return;
    this.files.delete(rel);
    this.log.push({ kind: 'unlink', path: rel });
  }

  stat(path: string): Promise<BigIntStats> {
    return this.inner.stat(path);
  }

  async mkdir(path: string): Promise<void> {
    await this.inner.mkdir(path);
    const rel = this.rel(path);
    if (rel === null) return;
    // mkdir is recursive: log each directory that did not exist, outermost first.
    const missing: string[] = [];
    for (let d = rel; d !== '.' && !this.dirs.has(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      this.dirs.add(d);
      this.log.push({ kind: 'mkdir', path: d });
    }
  }

  readdir(path: string): Promise<Dirent[]> {
    return this.inner.readdir(path);
  }

  async rm(path: string): Promise<void> {
    // Not used by a commit; a trace holding it could not be replayed faithfully.
    if (this.rel(path) !== null) throw new Error('recording: rm is not modelled');
    return this.inner.rm(path);
  }

  async utimes(path: string, atime: Date, mtime: Date): Promise<void> {
    await this.inner.utimes(path, atime, mtime);
    const rel = this.rel(path);
    if (rel !== null) this.log.push({ kind: 'utimes', path: rel });
  }
}

/** An open file (or directory) whose writes and fsyncs are logged against its logical inode. */
class RecordingFile implements FsFile {
  constructor(
    private readonly inner: FsFile,
    private readonly log: RecordedOp[],
    private readonly target: { ino: number } | { dir: string },
    private position = 0,
  ) {}

  get fd(): number {
    return this.inner.fd;
  }

  async writeAll(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Uint8Array.from(data);
    await this.inner.writeAll(data);
    if (!('ino' in this.target)) return;
    this.log.push({ kind: 'write', ino: this.target.ino, offset: this.position, data: bytes });
    this.position += bytes.byteLength;
  }

  async sync(): Promise<void> {
    await this.inner.sync();
    if ('ino' in this.target) this.log.push({ kind: 'fsync', ino: this.target.ino });
    else this.log.push({ kind: 'dirfsync', path: this.target.dir });
  }

  stat(): Promise<BigIntStats> {
    return this.inner.stat();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
