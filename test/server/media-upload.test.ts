/**
 * Uploads over HTTP against a real server with small caps: every accepted
 * type (real files), types decided by bytes, caps enforced while streaming
 * with nothing left on disk, unique names under concurrency, unsafe SVG,
 * decompression bombs, a failed commit removing its binaries, and metadata.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { UNSAFE_SVGS, mp3, mp4, pdf, raster, svg } from '../fixtures/media-samples.js';
import { assertError, hashTree, listTree, multipart, processed, sendEarlyAnswer, startServer, uploadsDir, type TestServer } from './harness.js';

const Upload = suite('server media upload');

const KB = 1024;
const LIMITS = {
  UPLOAD_MAX_IMAGE_BYTES: String(1024 * KB),
  UPLOAD_MAX_VIDEO_BYTES: String(64 * KB),
  UPLOAD_MAX_AUDIO_BYTES: String(64 * KB),
  UPLOAD_MAX_PDF_BYTES: String(32 * KB),
  UPLOAD_MAX_REQUEST_BYTES: String(4096 * KB),
  IMAGE_MAX_PIXELS: String(4_000_000),
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
const P = 'uploads';

Upload.before(async () => {
  server = await startServer('upload', LIMITS, { enableFaultInjection: true });
  await server.createProject('Uploads', P);
});

Upload.after(async () => {
  await server?.close();
});

const dir = (): string => uploadsDir(server, P);

/** Polls `check` every 20 ms for up to 3 s. */
async function waitFor(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    if (await check()) return true;
    await sleep(20);
  }
  return false;
}

/** Checks a record field by field against what was sent. */
function checkRecord(r: MediaRecord, expected: { originalName: string; type: string; folder: string; size: number; filename?: string }): void {
  // The editor's keys; width/height and thumbnail depend on the kind (checked by the caller); no usedIn until usage is set.
  const kindKeys = ['height', 'thumbnail', 'width'];
  assert.equal(
    Object.keys(r).filter((k) => !kindKeys.includes(k)).sort(),
    ['filename', 'id', 'metadata', 'originalName', 'path', 'size', 'sizes', 'type', 'uploaded'],
  );
  assert.match(r.id, UUID);
  if (expected.filename) assert.is(r.filename, expected.filename);
  assert.match(r.filename, /^[a-z0-9-]+\.[a-z0-9]+$/);
  assert.is(r.originalName, expected.originalName);
  assert.is(r.type, expected.type);
  assert.is(r.size, expected.size);
  const uploaded = r.uploaded ?? '';
  assert.ok(Math.abs(Date.parse(uploaded) - Date.now()) < 60_000, uploaded);
  assert.is(new Date(uploaded).toISOString(), uploaded);
  assert.is(r.path, `/uploads/${expected.folder}/${r.filename}`);
  assert.is(r.usedIn, undefined);
}

Upload('every accepted type in one request: records, folders, bytes, dimensions, variants', async () => {
  const samples = {
    jpeg: await raster('jpeg', 2000, 1000, 1),
    png: await raster('png', 300, 200, 2),
    gif: await raster('gif', 200, 120, 3),
    webp: await raster('webp', 500, 300, 4),
    svg: svg(),
    mp4: mp4(4096),
    mp3: mp3(),
    mp3Art: mp3(4, 20_000),
    pdf: pdf(),
  };
  const res = await server.upload(P, [
    { filename: 'Big Photo.JPG', data: samples.jpeg, contentType: 'image/jpeg' },
    { filename: 'chart.png', data: samples.png },
    { filename: 'anim.gif', data: samples.gif },
    { filename: 'pic.webp', data: samples.webp },
    { filename: 'logo.svg', data: samples.svg },
    { filename: 'clip.mp4', data: samples.mp4 },
    { filename: 'song.mp3', data: samples.mp3 },
    { filename: 'cover-art.mp3', data: samples.mp3Art },
    { filename: 'doc.pdf', data: samples.pdf },
  ]);
  assert.is(res.status, 201, res.text);
  assert.equal(Object.keys(res.json).sort(), ['message', 'processedFiles', 'rejectedFiles']);
  assert.is(res.json.message, '9 files uploaded');
  assert.equal(res.json.rejectedFiles, []);
  const byName = new Map(processed(res).map((r) => [r.originalName, r]));

  const expect: Array<[string, keyof typeof samples, string, string, string, number | undefined, number | undefined, string[]]> = [
    ['Big Photo.JPG', 'jpeg', 'image/jpeg', 'images', 'big-photo.jpg', 2000, 1000, ['thumb', 'small', 'medium', 'large']],
    ['chart.png', 'png', 'image/png', 'images', 'chart.png', 300, 200, ['thumb']],
    ['anim.gif', 'gif', 'image/gif', 'images', 'anim.gif', 200, 120, ['thumb']],
    ['pic.webp', 'webp', 'image/webp', 'images', 'pic.webp', 500, 300, ['thumb', 'small']],
    // The editor's shape: no width/height keys but for raster images; a PDF sits in images/.
    ['logo.svg', 'svg', 'image/svg+xml', 'images', 'logo.svg', undefined, undefined, []],
    ['clip.mp4', 'mp4', 'video/mp4', 'videos', 'clip.mp4', undefined, undefined, []],
    ['song.mp3', 'mp3', 'audio/mpeg', 'audios', 'song.mp3', undefined, undefined, []],
    ['cover-art.mp3', 'mp3Art', 'audio/mpeg', 'audios', 'cover-art.mp3', undefined, undefined, []],
    ['doc.pdf', 'pdf', 'application/pdf', 'images', 'doc.pdf', undefined, undefined, []],
  ];
  const widths: Record<string, number> = { thumb: 150, small: 480, medium: 1024, large: 1920 };
  for (const [originalName, key, type, folder, filename, width, height, variants] of expect) {
    const r = byName.get(originalName);
    assert.ok(r, originalName);
    checkRecord(r, { originalName, type, folder, size: samples[key].byteLength, filename });
    assert.is('width' in r, width !== undefined, `${originalName} has a width key only if raster`);
    assert.is(r.width, width, `${originalName} width`);
    assert.is(r.height, height, `${originalName} height`);
    assert.equal(r.metadata, type.startsWith('video/') || type.startsWith('audio/') ? { title: '', description: '' } : { alt: '', title: '' });
    if (type.startsWith('video/')) assert.is(r.thumbnail, null, 'a video carries thumbnail: null');
    else assert.not.ok('thumbnail' in r);
    assert.equal(Object.keys(r.sizes).sort(), [...variants].sort(), `${originalName} sizes`);
    // The stored bytes are exactly the uploaded bytes.
    assert.ok((await readFile(join(dir(), folder, filename))).equals(samples[key]), `${originalName} bytes`);
    for (const v of variants) {
      const variant = r.sizes[v]!;
      const stem = filename.slice(0, filename.lastIndexOf('.'));
      const ext = filename.slice(filename.lastIndexOf('.') + 1);
      assert.is(variant.filename, `${stem}.${v}.${ext}`);
      assert.is(variant.path, `/uploads/images/${variant.filename}`);
      assert.is(variant.width, widths[v]);
      assert.is(variant.height, Math.round((height! * widths[v]!) / width!));
      const onDisk = join(dir(), 'images', variant.filename!);
      assert.is((await stat(onDisk)).size, variant.size);
      const meta = await sharp(onDisk).metadata();
      assert.is(meta.width, variant.width, `${variant.filename} is readable with its width`);
      assert.is(meta.format, key === 'jpeg' ? 'jpeg' : key, `${variant.filename} keeps the format`);
      const served = await server.request('GET', `/api/media/projects/${P}${variant.path}`);
      assert.is(served.status, 200);
      assert.is(served.body.byteLength, variant.size);
    }
  }
  const list = await server.request('GET', `/api/media/projects/${P}/media`);
  assert.is(list.status, 200);
  assert.equal(Object.keys(list.json), ['files']);
  assert.ok(processed(res).every((r) => (list.json.files as MediaRecord[]).some((f) => f.id === r.id)));
});

Upload('types are decided by the bytes: wrong content renamed .jpg, mismatched extension, unknown formats', async () => {
  const before = await hashTree(server.dataDir);
  const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200, 1)]);
  const res = await server.upload(P, [
    { filename: 'holiday.jpg', data: pdf(), contentType: 'image/jpeg' },
    { filename: 'notes.jpg', data: Buffer.from('just some text, not an image\n'), contentType: 'image/jpeg' },
    { filename: 'photo.jpg', data: await raster('png', 10, 10), contentType: 'image/jpeg' },
    { filename: 'archive.png', data: zip, contentType: 'image/png' },
    { filename: 'page.svg', data: Buffer.from('<html><body><p>hi</p></body></html>'), contentType: 'image/svg+xml' },
    { filename: 'empty.png', data: Buffer.alloc(0) },
  ]);
  assertError(res, 400, 'UPLOAD_REJECTED');
  assert.equal(res.json.processedFiles, []);
  assert.type(res.json.message, 'string');
  const rejected = res.json.rejectedFiles as Array<{ originalName: string; reason: string; code: string }>;
  assert.equal(rejected.map((r) => r.originalName), ['holiday.jpg', 'notes.jpg', 'photo.jpg', 'archive.png', 'page.svg', 'empty.png']);
  for (const r of rejected) {
    assert.equal(Object.keys(r).sort(), ['code', 'originalName', 'reason']);
    assert.is(r.code, 'UNSUPPORTED_MEDIA_TYPE', r.originalName);
  }
  assert.match(rejected[0]!.reason, /PDF.*\.jpg/);
  assert.match(rejected[1]!.reason, /unrecognised/);
  assert.match(rejected[2]!.reason, /PNG.*\.jpg/);
  assert.match(rejected[3]!.reason, /zip/);
  assert.match(rejected[4]!.reason, /<html>/);
  assert.match(rejected[5]!.reason, /empty/);
  assert.is(await hashTree(server.dataDir), before, 'nothing written');

  // A good file in the same request is still stored: 201 with the rejection listed.
  const mixed = await server.upload(P, [
    { filename: 'ok.png', data: await raster('png', 12, 12) },
    { filename: 'fake.jpg', data: pdf() },
  ]);
  assert.is(mixed.status, 201, mixed.text);
  assert.is(mixed.json.message, '1 file uploaded, 1 rejected');
  assert.is(processed(mixed)[0]!.filename, 'ok.png');
  assert.equal((mixed.json.rejectedFiles as Array<{ originalName: string }>).map((r) => r.originalName), ['fake.jpg']);
});

Upload('oversized files are rejected while streaming and leave nothing on disk', async () => {
  const before = await hashTree(server.dataDir);
  const bigImage = Buffer.concat([await raster('png', 10, 10), Buffer.alloc(1100 * KB, 7)]);
  const res = await server.upload(P, [
    { filename: 'huge.png', data: bigImage },
    { filename: 'long.mp4', data: mp4(100 * KB) },
    { filename: 'long.mp3', data: mp3(200) },
    { filename: 'thick.pdf', data: pdf(40 * KB) },
  ]);
  assertError(res, 400, 'UPLOAD_REJECTED');
  const rejected = res.json.rejectedFiles as Array<{ originalName: string; reason: string; code: string }>;
  assert.equal(rejected.map((r) => [r.originalName, r.code]), [
    ['huge.png', 'PAYLOAD_TOO_LARGE'],
    ['long.mp4', 'PAYLOAD_TOO_LARGE'],
    ['long.mp3', 'PAYLOAD_TOO_LARGE'],
    ['thick.pdf', 'PAYLOAD_TOO_LARGE'],
  ]);
  assert.match(rejected[0]!.reason, /PNG limit of 1048576 bytes/);
  assert.match(rejected[1]!.reason, /MP4 limit of 65536 bytes/);
  assert.match(rejected[2]!.reason, /MP3 limit of 65536 bytes/);
  assert.match(rejected[3]!.reason, /PDF limit of 32768 bytes/);
  assert.is(await hashTree(server.dataDir), before, 'nothing of the oversized files stayed');
  // A file exactly at its cap is accepted.
  const atCap = pdf(32 * KB - pdf().byteLength);
  assert.is(atCap.byteLength, 32 * KB);
  const ok = await server.upload(P, [{ filename: 'exact.pdf', data: atCap }]);
  assert.is(ok.status, 201, ok.text);
});

Upload('a request over the hard cap is 413, declared or chunked, and leaves nothing', async () => {
  const before = await hashTree(server.dataDir);
  const form = multipart([
    { filename: 'a.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB)]) },
    { filename: 'b.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB)]) },
    { filename: 'c.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB)]) },
    { filename: 'd.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB)]) },
    { filename: 'e.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB)]) },
  ]);
  assert.ok(form.body.byteLength > 4096 * KB);
  const path = `/api/media/projects/${P}/media`;
  const declared = await sendEarlyAnswer(server.port, path, { 'content-type': form.contentType, 'content-length': String(form.body.byteLength) }, form.body);
  assertError(declared, 413, 'PAYLOAD_TOO_LARGE');
  assert.is(declared.json.limit, 4096 * KB);
  const chunked = await sendEarlyAnswer(server.port, path, { 'content-type': form.contentType, 'transfer-encoding': 'chunked' }, form.body);
  assertError(chunked, 413, 'PAYLOAD_TOO_LARGE');
  assert.is(await hashTree(server.dataDir), before, 'nothing of the refused request stayed');
});

Upload('a client that disconnects mid-upload leaves nothing behind, and the server keeps serving', async () => {
  const before = await listTree(dir());
  const form = multipart([{ filename: 'cut.png', data: Buffer.concat([await raster('png', 10, 10), Buffer.alloc(900 * KB, 3)]) }]);
  const req = http.request({ host: '127.0.0.1', port: server.port, method: 'POST', path: `/api/media/projects/${P}/media`, agent: false, headers: { 'content-type': form.contentType, 'content-length': String(form.body.byteLength) } });
  req.on('error', () => undefined); // we are the ones cutting it
  req.write(form.body.subarray(0, 400 * KB));
  // Wait until the server has claimed a name for it: the cut must happen mid-file.
  const claimed = await waitFor(async () => (await listTree(dir())).some((f) => f.startsWith('images/cut')));
  assert.ok(claimed, 'the upload reached the disk before the cut');
  req.destroy();
  const cleaned = await waitFor(async () => (await listTree(dir())).join() === before.join());
  assert.ok(cleaned, 'the partial file was removed');
  const next = await server.upload(P, [{ filename: 'after-cut.png', data: await raster('png', 8, 8) }]);
  assert.is(next.status, 201, next.text);
});

Upload('10 concurrent uploads of photo.jpg get 10 distinct names with their own bytes intact', async () => {
  const bodies = await Promise.all(Array.from({ length: 10 }, (_, i) => raster('jpeg', 64, 48, 100 + i)));
  const results = await Promise.all(bodies.map((data) => server.upload(P, [{ filename: 'photo.jpg', data }])));
  const names = new Set<string>();
  for (const [i, res] of results.entries()) {
    assert.is(res.status, 201, res.text);
    const r = processed(res)[0]!;
    names.add(r.filename);
    assert.ok((await readFile(join(dir(), 'images', r.filename))).equals(bodies[i]!), `${r.filename} holds request ${i}'s bytes`);
    const served = await server.request('GET', `/api/media/projects/${P}/media/${r.id}`);
    assert.ok(served.body.equals(bodies[i]!));
  }
  assert.equal([...names].sort(), ['photo.jpg', ...Array.from({ length: 9 }, (_, i) => `photo-${i + 1}.jpg`)].sort());

  // Same name three times inside one request.
  const one = await server.upload(P, [0, 1, 2].map((i) => ({ filename: 'twin.jpg', data: bodies[i]! })));
  // Parts of one request are claimed concurrently too: which part gets which suffix is not fixed.
  assert.equal(processed(one).map((r) => r.filename).sort(), ['twin-1.jpg', 'twin-2.jpg', 'twin.jpg']);
  for (const [i, r] of processed(one).entries()) assert.ok((await readFile(join(dir(), 'images', r.filename))).equals(bodies[i]!));
});

Upload('stored names: slugified, ≤ 100 characters, extension of the detected type', async () => {
  const data = await raster('png', 8, 8);
  const long = `${'Ab'.repeat(90)}.png`;
  const res = await server.upload(P, [
    { filename: 'Café Déjà Vu (1).PNG', data },
    { filename: long, data },
    { filename: '¡¡¡.png', data },
    { filename: 'C:\\fakepath\\shot.png', data },
    { filename: 'noext', data },
  ]);
  assert.is(res.status, 201, res.text);
  const [a, b, c, d, e] = processed(res);
  assert.is(a!.filename, 'cafe-deja-vu-1.png');
  assert.is(a!.originalName, 'Café Déjà Vu (1).PNG');
  assert.is(b!.filename, `${'ab'.repeat(50)}.png`);
  assert.is(c!.filename, 'file.png');
  assert.is(d!.filename, 'shot.png');
  assert.is(d!.originalName, 'shot.png');
  assert.is(e!.filename, 'noext.png');
  const again = await server.upload(P, [{ filename: long, data }]);
  const suffixed = processed(again)[0]!.filename;
  assert.is(suffixed, `${'ab'.repeat(49)}-1.png`);
  assert.ok(suffixed.length - 4 <= 100);
});

Upload('SVG with active content is refused with the reason; a clean SVG is stored', async () => {
  const before = await hashTree(server.dataDir);
  const res = await server.upload(P, UNSAFE_SVGS.map((s) => ({ filename: s.name, data: s.data })));
  assertError(res, 400, 'UPLOAD_REJECTED');
  const rejected = res.json.rejectedFiles as Array<{ originalName: string; reason: string; code: string }>;
  assert.is(rejected.length, UNSAFE_SVGS.length);
  for (const [i, s] of UNSAFE_SVGS.entries()) {
    assert.is(rejected[i]!.originalName, s.name);
    assert.is(rejected[i]!.code, 'UNSAFE_SVG');
    assert.ok(rejected[i]!.reason.includes(s.reasonIncludes), `${s.name}: ${rejected[i]!.reason}`);
  }
  const bomb = Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg">&b;</svg>');
  const entity = await server.upload(P, [{ filename: 'lol.svg', data: bomb }]);
  assert.match((entity.json.rejectedFiles as Array<{ reason: string }>)[0]!.reason, /ENTITY/);
  assert.is(await hashTree(server.dataDir), before);
});

Upload('decompression bomb: a small PNG declaring too many pixels is refused with the reason', async () => {
  const before = await hashTree(server.dataDir);
  const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#fff' } }).png({ compressionLevel: 9 }).toBuffer();
  assert.ok(bomb.byteLength < 200 * KB, `bomb is ${bomb.byteLength} bytes`);
  const res = await server.upload(P, [{ filename: 'bomb.png', data: bomb }]);
  assertError(res, 400, 'UPLOAD_REJECTED');
  const r = (res.json.rejectedFiles as Array<{ reason: string; code: string }>)[0]!;
  assert.is(r.code, 'PAYLOAD_TOO_LARGE');
  assert.match(r.reason, /3000×3000 px = 9000000 pixels, over the limit of 4000000 \(decompression-bomb protection\)/);
  assert.is(await hashTree(server.dataDir), before);
});

Upload('request-level refusals: not multipart 415, no files 400, wrong field, too many files, unknown project, bad id, malformed body', async () => {
  const path = `/api/media/projects/${P}/media`;
  const before = await hashTree(server.dataDir);
  assertError(await server.request('POST', path, { json: { files: [] } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  const empty = multipart([]);
  assertError(await server.request('POST', path, { headers: { 'content-type': empty.contentType }, body: empty.body }), 400, 'NO_FILES');
  const wrongField = await server.upload(P, [{ filename: 'a.png', data: await raster('png', 8, 8), field: 'file' }]);
  assertError(wrongField, 400, 'UPLOAD_REJECTED');
  assert.is((wrongField.json.rejectedFiles as Array<{ code: string }>)[0]!.code, 'UNEXPECTED_FIELD');
  const truncated = multipart([{ filename: 'a.png', data: await raster('png', 8, 8) }]);
  assertError(await server.request('POST', path, { headers: { 'content-type': truncated.contentType }, body: truncated.body.subarray(0, truncated.body.byteLength - 30) }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', path, { headers: { 'content-type': 'multipart/form-data' }, body: 'x' }), 400, 'INVALID_INPUT');
  assertError(await server.upload('nope', [{ filename: 'a.png', data: await raster('png', 8, 8) }]), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.upload('bad.id', [{ filename: 'a.png', data: await raster('png', 8, 8) }]), 400, 'INVALID_ID');
  assert.is(await hashTree(server.dataDir), before, 'refused requests wrote nothing');

  const eleven = await Promise.all(Array.from({ length: 11 }, async (_, i) => ({ filename: `many-${i}.png`, data: await raster('png', 8, 8, i) })));
  const res = await server.upload(P, eleven);
  assert.is(res.status, 201, res.text);
  assert.is(processed(res).length, 10);
  assert.equal(res.json.rejectedFiles, [{ originalName: 'many-10.png', code: 'TOO_MANY_FILES', reason: 'At most 10 files per request; this one was not stored' }]);
});

Upload('a failed commit removes the binaries it wrote: EIO → 503 with Retry-After, ENOSPC → 507', async () => {
  const before = await listTree(dir());
  const files = [
    { filename: 'commit-fail.jpg', data: await raster('jpeg', 400, 300) },
    { filename: 'commit-fail.mp4', data: mp4() },
  ];
  await server.storage.injectFaults([{ op: 'write', code: 'EIO', pathIncludes: 'media.json.tmp.' }]);
  try {
    const res = await server.upload(P, files);
    assertError(res, 503, 'STORAGE_IO');
    assert.is(res.headers['retry-after'], '1');
    assert.type(res.json.requestId, 'string');
    assert.is(res.json.requestId, res.headers['x-request-id']);
  } finally {
    await server.storage.clearFaults();
  }
  assert.equal(await listTree(dir()), before, 'original, variant and video removed after the failed commit');

  await server.storage.injectFaults([{ op: 'write', code: 'ENOSPC', pathIncludes: 'media.json.tmp.' }]);
  try {
    const res = await server.upload(P, files);
    assertError(res, 507, 'STORAGE_IO');
    assert.match(String(res.json.error), /full/);
  } finally {
    await server.storage.clearFaults();
  }
  assert.equal(await listTree(dir()), before);
  const logged = server.logs.filter((l) => l.msg === 'request failed');
  assert.ok(logged.length >= 2, '5xx are logged');
  assert.type(logged[0]!.requestId, 'string');

  // And the next upload after the fault clears succeeds.
  const ok = await server.upload(P, files);
  assert.is(ok.status, 201, ok.text);
});

Upload('a disk error while storing one file fails the request with 503 and removes the other files too', async () => {
  await server.createProject('Broken', 'broken');
  const uploads = join(server.dataDir, 'projects', 'broken', 'uploads');
  await rm(join(uploads, 'images'), { recursive: true, force: true });
  // A plain file where the images folder should be: creating anything in it fails (ENOTDIR), even for root.
  await writeFile(join(uploads, 'images'), 'not a folder');
  const res = await server.upload('broken', [
    { filename: 'first.png', data: await raster('png', 8, 8) },
    // Large enough to still be streaming when the first file's failure settles.
    { filename: 'second.mp4', data: mp4(60 * KB) },
    { filename: 'third.pdf', data: pdf(30 * KB) },
  ]);
  assertError(res, 503, 'STORAGE_IO');
  assert.is(res.headers['retry-after'], '1');
  assert.not.match(res.text, /ENOTDIR|broken\/uploads/);
  const left = (await listTree(uploads)).filter((f) => f.includes('/'));
  assert.equal(left, [], 'the video and PDF written for the request were removed');
  const media = await server.request('GET', '/api/media/projects/broken/media');
  assert.equal(media.json, { files: [] });
});

Upload('metadata: per-type fields, HTML stripped, response shape, failures', async () => {
  const up = await server.upload(P, [
    { filename: 'meta.png', data: await raster('png', 8, 8) },
    { filename: 'meta.mp4', data: mp4() },
  ]);
  const [image, video] = processed(up);
  const url = (id: string) => `/api/media/projects/${P}/media/${id}/metadata`;
  const res = await server.request('PUT', url(image!.id), {
    json: { alt: '<b>A</b> cat <script>alert(1)</script>on a mat', title: 'Cat', caption: '<img src=x onerror=alert(1)>Caption', description: 'ignored for images' },
  });
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['file', 'message']);
  assert.is(res.json.message, 'Metadata updated');
  const file = res.json.file as MediaRecord;
  assert.is(file.id, image!.id);
  assert.equal(file.metadata, { alt: 'A cat on a mat', title: 'Cat', caption: 'Caption' });

  const v = await server.request('PUT', url(video!.id), { json: { title: 'Clip <i>one</i>', description: 'a < b and c > d', alt: 'ignored' } });
  assert.is(v.status, 200, v.text);
  assert.equal((v.json.file as MediaRecord).metadata, { title: 'Clip one', description: 'a < b and c > d' });

  const list = await server.request('GET', `/api/media/projects/${P}/media`);
  assert.equal((list.json.files as MediaRecord[]).find((f) => f.id === image!.id)!.metadata, { alt: 'A cat on a mat', title: 'Cat', caption: 'Caption' });

  assertError(await server.request('PUT', url(video!.id), { json: { alt: 'only alt' } }), 400, 'INVALID_INPUT');
  assertError(await server.request('PUT', url(image!.id), { json: { alt: 42 } }), 400, 'INVALID_INPUT');
  assertError(await server.request('PUT', url(image!.id), { body: '{"alt": "x"', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
  assertError(await server.request('PUT', url('00000000-0000-0000-0000-000000000000'), { json: { alt: 'x' } }), 404, 'MEDIA_NOT_FOUND');
  assertError(await server.request('PUT', `/api/media/projects/nope/media/${image!.id}/metadata`, { json: { alt: 'x' } }), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('PUT', url('a%2Fb'), { json: { alt: 'x' } }), 400, 'INVALID_ID');
});

Upload.run();
