/**
 * The crash model and the recorder on their own: the persistence rules of
 * crash-model.ts on small hand-written logs, and a real AtomicJsonFile write
 * recorded through RecordingFs — whose crash states keep the invariants, and
 * stop keeping them when the write skips its fsync (so the explorer can fail).
 */
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AtomicJsonFile } from '../../storage-worker/atomic-json-file.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import { RecordingFs, type RecordedOp } from '../helpers/recording-fs.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { crashStates, logicalImage } from './crash-model.js';
import { contentOf, snapshot, type DiskImage } from './disk-image.js';

const test = suite('crash model');
const text = (s: string) => new TextEncoder().encode(s);
const read = (image: DiskImage, path: string) => {
  const bytes = contentOf(image, path);
  return bytes === null ? null : Buffer.from(bytes).toString('utf8');
};

/** d/f holds "old". */
const initial = (): DiskImage => ({ dirs: new Set(['.', 'd']), files: new Map([['d/f', 1]]), data: new Map([[1, text('old')]]) });

/** What `path` can hold after a crash at each point: point → sorted distinct contents (null: absent). */
function outcomes(log: RecordedOp[], path: string, deep = false): Array<Array<string | null>> {
  const byPoint: Array<Set<string | null>> = Array.from({ length: log.length + 1 }, () => new Set());
  for (const state of crashStates(initial(), log, { deep })) byPoint[state.point]!.add(read(state.image, path));
  return byPoint.map((s) => [...s].sort((a, b) => String(a).localeCompare(String(b))));
}

const atomicWrite = ({ fsync = true, dirfsync = true } = {}): RecordedOp[] => [
  { kind: 'create', path: 'd/f.tmp', ino: 2 },
  { kind: 'write', ino: 2, offset: 0, data: text('newer') },
  ...(fsync ? [{ kind: 'fsync', ino: 2 } as const] : []),
  { kind: 'rename', from: 'd/f.tmp', to: 'd/f' },
  ...(dirfsync ? [{ kind: 'dirfsync', path: 'd' } as const] : []),
];

test('temp, fsync, rename, directory fsync: the old or the new file at every point, the new one once the directory is synced', () => {
  const got = outcomes(atomicWrite(), 'd/f');
  assert.equal(got, [['old'], ['old'], ['old'], ['old'], ['newer', 'old'], ['newer']]);
});

test('a rename of unsynced data can leave the target empty or cut (delayed allocation), even after the directory fsync', () => {
  const got = outcomes(atomicWrite({ fsync: false }), 'd/f');
  assert.equal(got.at(-1), ['', 'ne', 'newer']);
  assert.ok(outcomes(atomicWrite({ fsync: false }), 'd/f', true).at(-1)!.length > 3, 'deep mode cuts at more places');
});

test('without the directory fsync the rename may be lost even though the data was synced', () => {
  assert.equal(outcomes(atomicWrite({ dirfsync: false }), 'd/f').at(-1), ['newer', 'old']);
});

test("name ops of one directory persist in order; another directory's independently", () => {
  const log: RecordedOp[] = [
    { kind: 'unlink', path: 'd/f' },
    { kind: 'create', path: 'd/g', ino: 2 },
    { kind: 'create', path: 'e', ino: 3 },
  ];
  const seen = new Set<string>();
  for (const state of crashStates(initial(), log, { deep: false })) {
    const has = (p: string) => (state.image.files.has(p) ? '1' : '0');
    seen.add(`${has('d/f')}${has('d/g')}${has('e')}`);
  }
  // f present & g present would mean the create persisted without the earlier unlink.
  assert.not.ok(seen.has('110') || seen.has('111'), `states: ${[...seen].join(' ')}`);
  assert.ok(seen.has('101') && seen.has('001') && seen.has('000') && seen.has('100'));
});

test("a file in a new directory is lost with the directory when the parent was not synced", () => {
  const log: RecordedOp[] = [
    { kind: 'mkdir', path: 'n' },
    { kind: 'create', path: 'n/x', ino: 2 },
    { kind: 'fsync', ino: 2 },
    { kind: 'dirfsync', path: 'n' },
  ];
  assert.equal(outcomes(log, 'n/x').at(-1), ['', null]);
  log.push({ kind: 'dirfsync', path: '.' });
  assert.equal(outcomes(log, 'n/x').at(-1), ['']);
});

test('the logical image applies every op in full', () => {
  const image = logicalImage(initial(), atomicWrite({ fsync: false, dirfsync: false }), 4);
  assert.is(read(image, 'd/f'), 'newer');
  assert.not.ok(image.files.has('d/f.tmp'));
});

/** Records one AtomicJsonFile write (with .bak) over an existing file; `seam` may weaken the real one. */
async function recordAtomicWrite(weaken: (fs: FsSeam) => FsSeam = (fs) => fs): Promise<{ before: DiskImage; log: RecordedOp[] }> {
  const dir = await makeTempDir('crash-model');
  try {
    const path = join(dir, 'doc.json');
    const setup = new AtomicJsonFile<{ v: number }>(path, { parse: (t) => JSON.parse(t) as { v: number }, keepBackup: true });
    await setup.write({ v: 1 });
    const before = await snapshot(dir);
    const recorder = new RecordingFs(dir, before.names, realFs);
    const file = new AtomicJsonFile<{ v: number }>(path, { fs: weaken(recorder), parse: (t) => JSON.parse(t) as { v: number }, keepBackup: true });
    await file.write({ v: 2 });
    return { before, log: recorder.log };
  } finally {
    await removeTempDir(dir);
  }
}

/** Contents of doc.json over all crash states that are not whole JSON versions. */
function tornStates(before: DiskImage, log: RecordedOp[]): string[] {
  const torn = new Set<string>();
  for (const state of crashStates(before, log, { deep: false })) {
    const content = read(state.image, 'doc.json');
    try {
      JSON.parse(content ?? 'null');
    } catch {
      torn.add(JSON.stringify(content));
    }
  }
  return [...torn];
}

test('a real atomic write, recorded: temp create, write, fsync, .bak link and rename, rename, directory fsync', async () => {
  const { before, log } = await recordAtomicWrite();
  assert.equal(
    log.filter((op) => op.kind !== 'utimes').map((op) => op.kind),
    ['create', 'write', 'fsync', 'link', 'rename', 'rename', 'dirfsync'],
  );
  assert.equal(tornStates(before, log), [], 'no crash state tears it');
});

test('the same write without its fsync tears under the model (the explorer can fail)', async () => {
  // Every op goes to the recorder, except that a written file's fsync does nothing.
  const noFileSync = (fs: FsSeam): FsSeam => ({
    open: async (path, flags, mode) => {
      const file = await fs.open(path, flags, mode);
      if (!/[wa]/.test(flags)) return file;
      return { fd: file.fd, writeAll: (d) => file.writeAll(d), sync: async () => undefined, stat: () => file.stat(), close: () => file.close() };
    },
    readFile: (path) => fs.readFile(path),
    rename: (from, to) => fs.rename(from, to),
    link: (existing, newPath) => fs.link(existing, newPath),
    unlink: (path) => fs.unlink(path),
    stat: (path) => fs.stat(path),
    mkdir: (path) => fs.mkdir(path),
    readdir: (path) => fs.readdir(path),
    rm: (path) => fs.rm(path),
    utimes: (path, atime, mtime) => fs.utimes(path, atime, mtime),
  });
  const { before, log } = await recordAtomicWrite(noFileSync);
  assert.ok(tornStates(before, log).length > 0, 'an empty or cut doc.json is among the crash states');
});

test.run();
