import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import { JsonFileReader } from '../../storage-worker/json-file-reader.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { rejection } from '../helpers/storage-errors.js';

const R = suite<{ dir: string; file: string }>('json-file-reader', { dir: '', file: '' });

R.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('reader');
  ctx.file = join(ctx.dir, 'media.json');
});
R.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

function reader(file: string, options: { fs?: FsSeam; versionOf?: (fs: FsSeam, path: string) => Promise<string | null> } = {}): JsonFileReader<{ n: number }> {
  return new JsonFileReader(file, {
    fs: options.fs ?? realFs,
    parse: (text) => {
      const value = JSON.parse(text) as { n?: unknown };
      if (typeof value.n !== 'number') throw new Error('no n');
      return { n: value.n };
    },
    retry: { baseMs: 1, maxMs: 5 },
    onRetry: undefined,
    versionOf: options.versionOf ?? (async () => 'v'),
  });
}

/** A version seam answering from a list (then its last entry), as a file replaced between looks would. */
function versions(list: string[]): { versionOf: () => Promise<string>; asked: () => number } {
  let i = 0;
  return {
    versionOf: async () => list[Math.min(i++, list.length - 1)]!,
    asked: () => i,
  };
}

R('a file replaced during the read is read again; the tag is the version seen before the read that counted', async ({ file }) => {
  await writeFile(file, '{"n": 1}');
  // before v1, after v2: replaced meanwhile, read again; before v2, after v2: stable.
  const once = versions(['v1', 'v2', 'v2', 'v2']);
  const read = await reader(file, { versionOf: once.versionOf }).readStable();
  assert.equal(read, { text: '{"n": 1}', signature: 'v2' });
  assert.is(once.asked(), 4);
  // Always changing: give up after three reads, tagged with the version from BEFORE the last one
  // (the text is at least that new, so a later check can only reload needlessly).
  const always = versions(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
  const last = await reader(file, { versionOf: always.versionOf }).readStable();
  assert.equal(last, { text: '{"n": 1}', signature: 'v5' });
});

R('a file removed between the version and the read is looked at again; gone for good reads as null', async ({ file }) => {
  await writeFile(file, '{"n": 2}');
  const fs = new FaultyFs(realFs, [{ op: 'readFile', code: 'ENOENT', times: 1 }]);
  assert.equal(await reader(file, { fs }).readStable(), { text: '{"n": 2}', signature: 'v' });
  fs.inject([{ op: 'readFile', code: 'ENOENT' }]);
  assert.is(await reader(file, { fs }).readStable(), null);
  // No version at all: no file, without reading.
  assert.is(await reader(file, { versionOf: async () => null }).readStable(), null);
});

R('.bak: none reads as null, a valid one as its data, a bad one as CORRUPT_DOCUMENT naming the .bak', async ({ file }) => {
  const r = reader(file);
  assert.is(await r.readBackup(), null);
  await writeFile(`${file}.bak`, '{"n": 3}');
  assert.equal(await r.readBackup(), { data: { n: 3 }, text: '{"n": 3}' });
  await writeFile(`${file}.bak`, '{"m": 3}');
  const err = await rejection(r.readBackup());
  assert.is(err.code, 'CORRUPT_DOCUMENT');
  assert.is(err.details?.file, 'media.json.bak');
});

R.run();
