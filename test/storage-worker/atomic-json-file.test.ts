import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { StorageError } from '../../shared/errors.js';
import type { FaultSpec } from '../../shared/storage-api.js';
import {
  AtomicJsonFile,
  statSignature,
  type AtomicFileWarning,
  type AtomicJsonFileOptions,
} from '../../storage-worker/atomic-json-file.js';
import { FaultyFs, makeFsError } from '../../storage-worker/fault-injection.js';
import { realFs, type FsFile, type FsSeam } from '../../storage-worker/fs-seam.js';
import { parseTempName } from '../../storage-worker/temp-file-name.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { rejection } from '../helpers/storage-errors.js';

interface Doc {
  n: number;
  files: Array<{ id: string }>;
}

/** Validates like the real media.json parser: wrong shape → CORRUPT_DOCUMENT. */
function parseDoc(text: string): Doc {
  const value: unknown = JSON.parse(text);
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Doc).n !== 'number' ||
    !Array.isArray((value as Doc).files)
  ) {
    throw new StorageError('CORRUPT_DOCUMENT', 'not a Doc');
  }
  return value as Doc;
}

const doc = (n: number): Doc => ({ n, files: [{ id: `f${n}` }] });
const FAST = { baseMs: 1, maxMs: 5 };

const A = suite<{ dir: string; file: string }>('AtomicJsonFile', { dir: '', file: '' });

A.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('atomic');
  ctx.file = join(ctx.dir, 'media.json');
});
A.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

function adapter(file: string, options: Partial<AtomicJsonFileOptions<Doc>> = {}): AtomicJsonFile<Doc> {
  return new AtomicJsonFile<Doc>(file, { parse: parseDoc, retry: FAST, ...options });
}

async function tempFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => parseTempName(name) !== null);
}

A('round trip: missing file reads null, written data reads back with its text and signature', async ({ file }) => {
  const a = adapter(file);
  assert.is(await a.read(), null);
  assert.is(await a.readWithText(), null);
  const result = await a.writeText(JSON.stringify(doc(1)));
  assert.is(result.retries, 0);
  assert.is(result.bytes, Buffer.byteLength(JSON.stringify(doc(1))));
  await a.write(doc(2));
  assert.equal(await a.read(), doc(2));
  const full = await a.readWithText();
  assert.ok(full);
  assert.is(full.text, JSON.stringify(doc(2), null, 2), 'default stringify is 2-space JSON');
  assert.is(await readFile(file, 'utf8'), full.text);
  assert.is(full.signature, await statSignature(realFs, file));
  assert.is(await statSignature(realFs, join(file, '..', 'absent.json')), null);
});

A('works as a lowdb adapter', async ({ file }) => {
  const db = new Low<Doc>(adapter(file), { n: 0, files: [] });
  await db.read();
  assert.equal(db.data, { n: 0, files: [] });
  await db.update((d) => {
    d.n = 7;
    d.files.push({ id: 'x' });
  });
  const again = new Low<Doc>(adapter(file), { n: 0, files: [] });
  await again.read();
  assert.equal(again.data, { n: 7, files: [{ id: 'x' }] });
});

A('a file that does not parse or validate reads as CORRUPT_DOCUMENT, never as empty', async ({ file }) => {
  await writeFile(file, '{"n": 1, "files": [');
  const err = await rejection(adapter(file).read());
  assert.is(err.code, 'CORRUPT_DOCUMENT');
  assert.is(err.details?.file, 'media.json');
  await writeFile(file, '{"files": []}');
  assert.is((await rejection(adapter(file).read())).code, 'CORRUPT_DOCUMENT');
});

A('200 concurrent write() calls all complete, one at a time, and the last one wins', async ({ dir, file }) => {
  // Count temp files open at once through a seam: serialised writes never overlap.
  let open = 0;
  let maxOpen = 0;
  const counting: FsSeam = {
    ...realFs,
    async open(path, flags, mode) {
      const inner = await realFs.open(path, flags, mode);
      if (flags !== 'wx') return inner;
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      const wrapped: FsFile = {
        fd: inner.fd,
        writeAll: (d) => inner.writeAll(d),
        sync: () => inner.sync(),
        stat: () => inner.stat(),
        close: async () => {
          open -= 1;
          await inner.close();
        },
      };
      return wrapped;
    },
  };
  const a = adapter(file, { fs: counting });
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      a.write(doc(i)).then(() => {
        order.push(i);
      }),
    ),
  );
  assert.is(order.length, 200);
  assert.equal(order, Array.from({ length: 200 }, (_, i) => i), 'writes complete in call order');
  assert.is(maxOpen, 1, 'one write in flight at a time');
  const text = await readFile(file, 'utf8');
  assert.equal(JSON.parse(text), doc(199));
  assert.equal(await tempFilesIn(dir), []);
});

A('two adapters (two writers without a shared queue) never collide on temp files', async ({ dir, file }) => {
  // This is the old field failure: two writers racing on one file. Without a
  // lock the last rename wins, but no write may fail.
  const a = adapter(file);
  const b = adapter(file);
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 100; i++) {
    writes.push(a.write(doc(i)));
    writes.push(b.write(doc(1000 + i)));
  }
  const results = await Promise.allSettled(writes);
  assert.equal(results.filter((r) => r.status === 'rejected'), []);
  const final = parseDoc(await readFile(file, 'utf8'));
  assert.ok(final.n === 99 || final.n === 1099, `final is one writer's last (${final.n})`);
  assert.equal(await tempFilesIn(dir), []);
});

for (const code of ['EPERM', 'EBUSY', 'ENOENT']) {
  A(`transient ${code} on rename (times: 2) is retried and the write succeeds`, async ({ dir, file }) => {
    const fs = new FaultyFs();
    const retried: Array<[string, number]> = [];
    const a = adapter(file, { fs, onRetry: (c, attempt) => retried.push([c, attempt]) });
    await a.write(doc(1));
    fs.inject([{ op: 'rename', code, pathIncludes: 'media.json', times: 2 }]);
    const result = await a.writeText(JSON.stringify(doc(2)));
    assert.is(result.retries, 2);
    assert.equal(retried, [
      [code, 1],
      [code, 2],
    ]);
    assert.is(fs.fired, 2);
    assert.equal(parseDoc(await readFile(file, 'utf8')), doc(2));
    assert.equal(await tempFilesIn(dir), [], 'the failed tries removed their temp files');
  });
}

A('a temp file deleted underneath us makes the whole write start again', async ({ dir, file }) => {
  // A real deletion, not an injected error: the first rename finds its source
  // gone (ENOENT). Retrying only the rename would fail forever.
  let sabotaged = 0;
  const opened: string[] = [];
  const fs: FsSeam = {
    ...realFs,
    async open(path, flags, mode) {
      if (flags === 'wx') opened.push(path);
      return realFs.open(path, flags, mode);
    },
    async rename(from, to) {
      if (to === file && sabotaged === 0) {
        sabotaged += 1;
        await unlink(from);
      }
      return realFs.rename(from, to);
    },
  };
  const a = adapter(file, { fs });
  const result = await a.writeText(JSON.stringify(doc(5)));
  assert.is(sabotaged, 1);
  assert.is(result.retries, 1);
  assert.is(opened.length, 2, 'a second temp file was written');
  assert.is.not(opened[0], opened[1], 'with a fresh name');
  assert.equal(parseDoc(await readFile(file, 'utf8')), doc(5));
  assert.equal(await tempFilesIn(dir), []);
});

A('transient errors on opening the temp file are retried too', async ({ file }) => {
  const fs = new FaultyFs(realFs, [{ op: 'open', code: 'EACCES', pathIncludes: '.tmp.', times: 1 }]);
  const result = await adapter(file, { fs }).writeText(JSON.stringify(doc(3)));
  assert.is(result.retries, 1);
  assert.equal(parseDoc(await readFile(file, 'utf8')), doc(3));
});

const persistent: Array<{ name: string; fault: FaultSpec; op: string }> = [
  { name: 'ENOSPC on write', fault: { op: 'write', code: 'ENOSPC' }, op: 'write' },
  { name: 'EIO on fsync', fault: { op: 'fsync', code: 'EIO' }, op: 'fsync' },
  { name: 'EIO on rename', fault: { op: 'rename', code: 'EIO' }, op: 'rename' },
  { name: 'EIO on close', fault: { op: 'close', code: 'EIO', pathIncludes: '.tmp.' }, op: 'close' },
  { name: 'EROFS on open', fault: { op: 'open', code: 'EROFS', pathIncludes: '.tmp.' }, op: 'open' },
];

for (const { name, fault, op } of persistent) {
  A(`persistent ${name}: STORAGE_IO at once, no temp file left, previous content intact`, async ({ dir, file }) => {
    const fs = new FaultyFs();
    const a = adapter(file, { fs, keepBackup: true });
    await a.write(doc(1));
    const before = await readFile(file, 'utf8');
    const signatureBefore = await statSignature(realFs, file);
    fs.inject([{ ...fault }]);
    const err = await rejection(a.write(doc(2)));
    assert.is(err.code, 'STORAGE_IO');
    assert.is(err.details?.errno, fault.code);
    assert.is(err.details?.op, op);
    assert.is(err.details?.file, 'media.json');
    assert.is(err.details?.attempts, 1, 'a persistent error is not retried');
    assert.is(err.details?.contentReplaced, false);
    assert.equal(await tempFilesIn(dir), []);
    assert.is(await readFile(file, 'utf8'), before);
    assert.is(await statSignature(realFs, file), signatureBefore);
    // The adapter is not wedged: once the fault is gone the next write lands.
    fs.clear();
    await a.write(doc(3));
    assert.equal(await a.read(), doc(3));
  });
}

A('a transient error that never clears fails after the configured attempts', async ({ dir, file }) => {
  const fs = new FaultyFs(realFs, [{ op: 'rename', code: 'EBUSY' }]);
  const retried: number[] = [];
  const a = adapter(file, { fs, retry: { ...FAST, attempts: 4 }, onRetry: (_c, n) => retried.push(n) });
  const err = await rejection(a.writeText('{"n":1,"files":[]}'));
  assert.is(err.code, 'STORAGE_IO');
  assert.is(err.details?.errno, 'EBUSY');
  assert.is(err.details?.attempts, 4);
  assert.equal(retried, [1, 2, 3]);
  assert.equal(await readdir(dir), [], 'no target, no temp files');
});

A('a failed write does not block the writes queued behind it', async ({ file }) => {
  const fs = new FaultyFs(realFs, [{ op: 'write', code: 'ENOSPC', times: 1 }]);
  const a = adapter(file, { fs });
  const first = a.write(doc(1));
  const second = a.write(doc(2));
  assert.is((await rejection(first)).details?.errno, 'ENOSPC');
  await second;
  assert.equal(await a.read(), doc(2));
});

A('.bak holds the previous version after each write', async ({ file }) => {
  const a = adapter(file, { keepBackup: true });
  await a.write(doc(1));
  assert.is(await a.readBackup(), null, 'nothing to back up on the first write');
  await a.write(doc(2));
  assert.equal((await a.readBackup())?.data, doc(1));
  await a.write(doc(3));
  const bak = await a.readBackup();
  assert.equal(bak?.data, doc(2));
  assert.is(bak?.text, JSON.stringify(doc(2), null, 2));
  assert.equal(await a.read(), doc(3));
  assert.equal(
    (await readdir(join(file, '..'))).sort(),
    ['media.json', 'media.json.bak'],
    'no link temp files left',
  );
});

A('failing to refresh the backup is reported, not fatal, and keeps the older backup', async ({ dir, file }) => {
  const warnings: AtomicFileWarning[] = [];
  const fs = new FaultyFs();
  const a = adapter(file, { fs, keepBackup: true, onWarning: (w) => warnings.push(w) });
  await a.write(doc(1));
  await a.write(doc(2)); // .bak = 1
  fs.inject([{ op: 'link', code: 'EPERM', times: 1 }]);
  await a.write(doc(3));
  assert.equal(await a.read(), doc(3));
  assert.equal((await a.readBackup())?.data, doc(1));
  assert.is(warnings.length, 1);
  assert.is(warnings[0]?.kind, 'backup-not-refreshed');
  assert.is(warnings[0]?.errno, 'EPERM');

  fs.inject([{ op: 'rename', code: 'EIO', pathIncludes: '.bak.tmp.', times: 1 }]);
  await a.write(doc(4));
  assert.equal((await a.readBackup())?.data, doc(1));
  assert.is(warnings[1]?.errno, 'EIO');
  assert.equal(await tempFilesIn(dir), [], 'the unused link was removed');
});

A('a target that does not validate never replaces a good backup', async ({ dir, file }) => {
  const warnings: AtomicFileWarning[] = [];
  const a = adapter(file, { keepBackup: true, onWarning: (w) => warnings.push(w) });
  await a.write(doc(1));
  await a.write(doc(2)); // .bak = 1
  // Someone else renames a broken file in.
  await writeFile(join(dir, 'broken'), '{"files": "oops"');
  await rename(join(dir, 'broken'), file);
  await a.write(doc(3));
  assert.equal(await a.read(), doc(3));
  assert.equal((await a.readBackup())?.data, doc(1), 'the broken file did not become the backup');
  assert.is(warnings[0]?.kind, 'backup-not-refreshed');
  // A valid file written by someone else is checked, then kept as the backup.
  await writeFile(join(dir, 'other'), JSON.stringify(doc(40)));
  await rename(join(dir, 'other'), file);
  await a.write(doc(4));
  assert.equal((await a.readBackup())?.data, doc(40));
});

A('the signature changes on every write and equals statSignature right after it', async ({ dir, file }) => {
  const a = adapter(file, { keepBackup: true });
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    // Same length every time, so only ino/mtime can tell the versions apart.
    const { signature } = await a.writeText(JSON.stringify(doc(i % 10)));
    assert.is(signature, await statSignature(realFs, file), `write ${i}`);
    assert.ok(!seen.has(signature), `write ${i} has a new signature`);
    seen.add(signature);
    assert.is((await a.readWithText())?.signature, signature);
  }
  // A write by another process is seen as a change too.
  const mine = await statSignature(realFs, file);
  await writeFile(join(dir, 'x'), JSON.stringify(doc(1)));
  await rename(join(dir, 'x'), file);
  assert.is.not(await statSignature(realFs, file), mine);
});

A('every version gets a later mtime than the one it replaces, even when the clock says otherwise', async ({ file }) => {
  // ext4 reuses inode numbers at once, so with coarse timestamps only a
  // strictly increasing mtime keeps two versions' signatures apart. A target
  // stamped in the future stands in for "the clock has not ticked yet".
  const a = adapter(file);
  await a.write(doc(1));
  const future = new Date(Date.now() + 60_000);
  await utimes(file, future, future);
  const before = (await stat(file, { bigint: true })).mtimeNs;
  const { signature } = await a.writeText(JSON.stringify(doc(2)));
  const after = (await stat(file, { bigint: true })).mtimeNs;
  assert.ok(after > before, `mtime ${after} > ${before}`);
  assert.is(signature, await statSignature(realFs, file));
  // Normally no utimes is needed: the fresh file is already newer.
  const fs = new FaultyFs(realFs, [{ op: 'utimes', code: 'EIO' }]);
  await utimes(file, new Date(0), new Date(0));
  await adapter(file, { fs }).write(doc(3));
  assert.is(fs.fired, 0);
});

A('a failed directory fsync after the rename retries only the fsync, then reports contentReplaced', async ({ dir, file }) => {
  let dirFaults: string[] = [];
  const fs: FsSeam = {
    ...realFs,
    async open(path, flags, mode) {
      const inner = await realFs.open(path, flags, mode);
      if (path !== dir) return inner;
      return {
        fd: inner.fd,
        writeAll: (d) => inner.writeAll(d),
        stat: () => inner.stat(),
        close: () => inner.close(),
        sync: async () => {
          const code = dirFaults.shift();
          if (code) throw makeFsError(code, 'fsync', path);
          return inner.sync();
        },
      };
    },
  };
  const a = adapter(file, { fs, keepBackup: true });
  await a.write(doc(1));
  await a.write(doc(2)); // .bak = 1
  dirFaults = ['EAGAIN'];
  const ok = await a.writeText(JSON.stringify(doc(3)));
  assert.is(ok.retries, 1);
  assert.equal((await a.readBackup())?.data, doc(2), 'the retry did not redo the backup from the new content');

  dirFaults = ['EIO'];
  const err = await rejection(a.write(doc(4)));
  assert.is(err.details?.errno, 'EIO');
  assert.is(err.details?.op, 'fsync');
  assert.is(err.details?.step, 'fsync-dir');
  assert.is(err.details?.contentReplaced, true);
  assert.equal(parseDoc(await readFile(file, 'utf8')), doc(4));

  dirFaults = ['EINVAL']; // a file system without directory fsync: not an error
  await a.write(doc(5));
  assert.equal(await a.read(), doc(5));
});

A('transient read errors are retried; persistent ones are STORAGE_IO', async ({ file }) => {
  const fs = new FaultyFs();
  const a = adapter(file, { fs });
  await a.write(doc(1));
  fs.inject([{ op: 'readFile', code: 'EBUSY', times: 2 }]);
  assert.equal(await a.read(), doc(1));
  fs.inject([{ op: 'readFile', code: 'EIO' }]);
  const err = await rejection(a.read());
  assert.is(err.code, 'STORAGE_IO');
  assert.is(err.details?.errno, 'EIO');
  assert.is(err.details?.op, 'readFile');
});

A.run();
