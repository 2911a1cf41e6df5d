/**
 * A version becomes media.json.bak only if it validates — also a version
 * this very process wrote. The serializer once wrote an invalid media.json
 * (a field held its marker string); the backup step trusted the file because
 * it carried the process's own signature, so the next commit made the broken
 * version `.bak` and a restart found no good version to restore.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaDocument } from '../../shared/media-types.js';
import { AtomicJsonFile, type AtomicFileWarning } from '../../storage-worker/atomic-json-file.js';
import { parseMediaDocument, serializeMediaDocument } from '../../storage-worker/media-document-schema.js';
import { IncrementalSerializer } from '../../storage-worker/incremental-serializer.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite<{ dir: string }>('backup validation', { dir: '' });

test.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('backup-validation');
});
test.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

/** The parsed document, or the code it was refused with (a thrown StorageError would hide uvu's report). */
function parsed(text: string): MediaDocument | string {
  try {
    return parseMediaDocument(text);
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

const doc = (id: string): MediaDocument => ({
  files: [{ id, filename: `${id}.png`, type: 'image/png', path: `/uploads/images/${id}.png`, metadata: {}, sizes: {} }],
});

test('an invalid version this process wrote does not become .bak; the last good one stays', async ({ dir }) => {
  const file = join(dir, 'media.json');
  const warnings: AtomicFileWarning[] = [];
  const media = new AtomicJsonFile<MediaDocument>(file, {
    parse: (text) => parseMediaDocument(text),
    stringify: serializeMediaDocument,
    keepBackup: true,
    onWarning: (w) => warnings.push(w),
  });
  await media.write(doc('one'));
  await media.write(doc('two')); // .bak = one
  // What a serializer bug writes: not JSON. It is this adapter's own write.
  await media.writeText('{\n  "files": [\n    {\n      "id": "three",\n      "usedIn": [\n  ]\n}');
  await media.write(doc('four'));

  const bak = await readFile(`${file}.bak`, 'utf8');
  assert.equal(parsed(bak), doc('two'), '.bak holds the last version that validates');
  assert.equal(parsed(await readFile(file, 'utf8')), doc('four'));
  assert.equal(warnings.map((w) => w.kind), ['backup-not-refreshed']);
});

test('a valid version this process wrote still becomes .bak', async ({ dir }) => {
  const file = join(dir, 'media.json');
  const media = new AtomicJsonFile<MediaDocument>(file, { parse: (text) => parseMediaDocument(text), keepBackup: true });
  await media.write(doc('one'));
  await media.write(doc('two'));
  await media.write(doc('three'));
  assert.equal(parsed(await readFile(`${file}.bak`, 'utf8')), doc('two'));
});

test('the serializer vouches for its output only where it is valid by construction', () => {
  // Its records were validated when loaded or added, and the encoding is
  // proven byte-identical to JSON.stringify (incremental-serializer-property):
  // what it cannot vouch for is a duplicate id or a document it did not build.
  const serializer = new IncrementalSerializer();
  const good = { ...doc('a').files[0]!, usedIn: ['home'] };
  serializer.serialize({ files: [good] });
  assert.ok(serializer.lastOutputValidated);
  serializer.serialize({ files: [good, good] });
  assert.not.ok(serializer.lastOutputValidated, 'duplicate ids');
  serializer.serialize({ files: [good], extra: true } as unknown as MediaDocument);
  assert.not.ok(serializer.lastOutputValidated, 'a top-level field another tool added takes the plain path');
  serializer.serialize({ files: [good] });
  assert.ok(serializer.lastOutputValidated);
});

test.run();
