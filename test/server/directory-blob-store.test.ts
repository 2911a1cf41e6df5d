/**
 * The default blob store on a real temp dir: what upload and serve rely on
 * from it (a taken name is refused, never overwritten; staged names are
 * never servable; publish replaces an orphan; a symlink is not a blob;
 * removal of a missing blob is fine).
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { DirectoryBlobStore } from '../../server/blob-store/directory-blob-store.js';
import { FILENAME_PATTERN } from '../../shared/ids.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('directory blob store');
const blobs = new DirectoryBlobStore();
let dir: string;

test.before.each(async () => {
  dir = await makeTempDir('blob-store');
});
test.after.each(async () => {
  await removeTempDir(dir);
});

test('createExclusive refuses a taken name and leaves its bytes alone', async () => {
  const location = join(dir, 'photo.png');
  const first = await blobs.createExclusive(location);
  assert.ok(first);
  await first.handle.writeFile('first');
  await first.handle.close();
  assert.is(await blobs.createExclusive(location), undefined);
  assert.is(await readFile(location, 'utf8'), 'first');
});

test('createExclusive in a folder that is gone is PROJECT_NOT_FOUND', async () => {
  try {
    await blobs.createExclusive(join(dir, 'gone', 'photo.png'));
    assert.unreachable('created in a missing folder');
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).code, 'PROJECT_NOT_FOUND');
  }
});

test('a staged blob has a name no route serves; publish moves it over an orphan', async () => {
  const staged = await blobs.createStaged(dir, 'png');
  assert.not.ok(FILENAME_PATTERN.test(basename(staged.location)), basename(staged.location));
  assert.ok(basename(staged.location).startsWith(staged.stem));
  await staged.handle.writeFile('new bytes');
  await staged.handle.close();
  const final = join(dir, 'photo.png');
  await writeFile(final, 'orphan');
  await blobs.publish(staged.location, final);
  assert.is(await readFile(final, 'utf8'), 'new bytes');
  assert.is(await blobs.exists(staged.location), false);
});

test('open gives size and mtime; a symlink or a folder is no blob', async () => {
  await writeFile(join(dir, 'a.png'), 'twelve bytes');
  const blob = await blobs.open(join(dir, 'a.png'));
  assert.ok(blob);
  assert.is(blob.size, 12);
  assert.type(blob.mtimeMs, 'number');
  await blob.handle.close();
  await symlink(join(dir, 'a.png'), join(dir, 'link.png'));
  assert.is(await blobs.open(join(dir, 'link.png')), undefined);
  await mkdir(join(dir, 'folder.png'));
  assert.is(await blobs.open(join(dir, 'folder.png')), undefined);
  assert.is(await blobs.open(join(dir, 'missing.png')), undefined);
});

test('remove: present and missing blobs, no failure reported', async () => {
  await writeFile(join(dir, 'a.png'), 'x');
  assert.equal(await blobs.remove([join(dir, 'a.png'), join(dir, 'never.png')]), []);
  assert.is(await blobs.exists(join(dir, 'a.png')), false);
});

test.run();
