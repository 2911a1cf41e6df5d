/**
 * Issue 10: an upload is durable before its 201. Every fsync the server
 * makes for an upload is recorded through the upload seam (server/upload/
 * upload-fs.ts) on a real server, together with the bytes of media.json at
 * that moment, and the test checks that every binary, every variant and
 * every folder that gained a name was fsynced before the records were
 * committed (so before the 201), and each folder after the files in it.
 * A failing fsync fails the upload with nothing stored.
 */
import { readFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { realUploadFs, type UploadFs } from '../../server/upload/upload-fs.js';
import { makeFsError } from '../../storage-worker/fault-injection.js';
import { mp4, pdf, raster } from '../fixtures/media-samples.js';
import { assertError, hashTree, processed, startServer, uploadsDir, type TestServer } from './harness.js';

const Durable = suite('upload durability: fsync before the 201');

interface SyncCall {
  kind: 'file' | 'dir';
  path: string;
  /** media.json as it was on disk when this fsync ran ('' when absent) */
  mediaJson: string;
}

/** Records every fsync (then does it for real); `failWhen` makes chosen ones fail with EIO. */
class RecordingFs implements UploadFs {
  calls: SyncCall[] = [];
  failWhen: ((kind: 'file' | 'dir', path: string) => boolean) | undefined;
  mediaJsonPath = '';

  async syncFile(handle: Parameters<UploadFs['syncFile']>[0], path: string): Promise<void> {
    this.record('file', path);
    if (this.failWhen?.('file', path)) throw makeFsError('EIO', 'fsync', path);
    await realUploadFs.syncFile(handle, path);
  }

  async syncDirectory(path: string): Promise<void> {
    this.record('dir', path);
    if (this.failWhen?.('dir', path)) throw makeFsError('EIO', 'fsync', path);
    await realUploadFs.syncDirectory(path);
  }

  private record(kind: 'file' | 'dir', path: string): void {
    let mediaJson = '';
    try {
      mediaJson = readFileSync(this.mediaJsonPath, 'utf8');
    } catch {
      // no media.json yet: nothing committed
    }
    this.calls.push({ kind, path, mediaJson });
  }
}

const fs = new RecordingFs();
let server: TestServer;
const P = 'durable';

Durable.before(async () => {
  server = await startServer('upload-durable', {}, {}, { uploadFs: fs });
  await server.createProject('Durable', P);
  fs.mediaJsonPath = join(uploadsDir(server, P), 'media.json');
});

Durable.before.each(() => {
  fs.calls = [];
  fs.failWhen = undefined;
});

Durable.after(async () => {
  await server?.close();
});

/** Absolute paths of a record's original and variants. */
function binariesOf(record: MediaRecord): string[] {
  const root = uploadsDir(server, P);
  const rel = (p: string): string => join(root, ...p.replace(/^\/uploads\//, '').split('/'));
  return [rel(record.path), ...Object.values(record.sizes).map((v) => rel(v.path))];
}

Durable('every binary, every variant and every folder that gained a name is fsynced before the records are committed', async () => {
  const root = uploadsDir(server, P);
  // A project from before the folders were made at creation: the upload makes them, so uploads/ gains names.
  await rmdir(join(root, 'videos'));
  await rmdir(join(root, 'files'));
  const res = await server.upload(P, [
    { filename: 'wide.png', data: await raster('png', 1200, 200) },
    { filename: 'photo.jpg', data: await raster('jpeg', 600, 400) },
    { filename: 'clip.mp4', data: mp4() },
    { filename: 'doc.pdf', data: pdf() },
  ]);
  assert.is(res.status, 201, res.text);
  const records = processed(res);
  assert.is(records.length, 4);
  const ids = records.map((r) => r.id);
  const calls = [...fs.calls];
  const committedAt = (call: SyncCall): boolean => ids.some((id) => call.mediaJson.includes(id));

  const binaries = records.flatMap(binariesOf);
  // 1200 px png: thumb, small, medium; 600 px jpg: thumb, small; plus four originals.
  assert.is(binaries.length, 9, binaries.join(', '));
  for (const path of binaries) {
    const index = calls.findIndex((c) => c.kind === 'file' && c.path === path);
    assert.ok(index >= 0, `${path} was never fsynced`);
    assert.not.ok(committedAt(calls[index]!), `${path} was fsynced only after its record was committed`);
    // Its folder: fsynced after the file was (so after the name was created), still before the commit.
    const folder = dirname(path);
    const dirSync = calls.findIndex((c, i) => i > index && c.kind === 'dir' && c.path === folder);
    assert.ok(dirSync >= 0, `${folder} was not fsynced after ${path}`);
    assert.not.ok(committedAt(calls[dirSync]!), `${folder} was fsynced only after the commit`);
  }
  // The upload made the videos/ and files/ folders: their parent gained names too.
  const made = calls.findIndex((c) => c.kind === 'dir' && c.path === root);
  assert.ok(made >= 0, 'the uploads folder (which gained images/, videos/, …) was not fsynced');
  assert.not.ok(committedAt(calls[made]!));
  // And the commit did happen after all that: the records are on disk now.
  const onDisk = readFileSync(fs.mediaJsonPath, 'utf8');
  for (const id of ids) assert.ok(onDisk.includes(id));
});

Durable('a second upload into existing folders still fsyncs its files and their folder', async () => {
  const res = await server.upload(P, [{ filename: 'again.png', data: await raster('png', 300, 100) }]);
  assert.is(res.status, 201, res.text);
  const [record] = processed(res);
  for (const path of binariesOf(record!)) {
    assert.ok(fs.calls.some((c) => c.kind === 'file' && c.path === path), `${path} was never fsynced`);
  }
  assert.ok(fs.calls.some((c) => c.kind === 'dir' && c.path === join(uploadsDir(server, P), 'images')));
});

for (const target of ['an original', 'a variant', 'a folder'] as const) {
  Durable(`a failing fsync of ${target}: 503 STORAGE_IO, nothing stored, nothing committed`, async () => {
    const before = await hashTree(server.dataDir);
    fs.failWhen = (kind, path) =>
      target === 'a folder' ? kind === 'dir' : kind === 'file' && (target === 'a variant') === /\.(thumb|small)\.png$/.test(path);
    const res = await server.upload(P, [
      { filename: 'fails.png', data: await raster('png', 500, 100) },
      { filename: 'other.pdf', data: pdf() },
    ]);
    assertError(res, 503, 'STORAGE_IO');
    assert.ok(fs.calls.length > 0, 'the failing fsync was never reached');
    assert.is(await hashTree(server.dataDir), before);
  });
}

Durable.run();
