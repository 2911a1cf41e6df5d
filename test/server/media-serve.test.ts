/**
 * Serving stored binaries over HTTP: full, ranged, suffix and unsatisfiable
 * ranges, conditional requests, HEAD, SVG sandboxing, and traversal attempts
 * (encoded and not) refused before any file is opened.
 */
import { symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { mp4, pdf, raster, svg } from '../fixtures/media-samples.js';
import { assertError, hashTree, processed, startServer, uploadsDir, type Res, type TestServer } from './harness.js';

const Serve = suite('server media serving');

let server: TestServer;
const P = 'serve';
let image: MediaRecord;
let video: MediaRecord;
let vector: MediaRecord;
let doc: MediaRecord;
const bytes: Record<string, Buffer> = {};

Serve.before(async () => {
  server = await startServer('serve');
  await server.createProject('Serve', P);
  bytes.image = await raster('png', 300, 200, 5);
  bytes.video = mp4(8192);
  bytes.vector = svg();
  bytes.doc = pdf();
  const res = await server.upload(P, [
    { filename: 'pic.png', data: bytes.image },
    { filename: 'clip.mp4', data: bytes.video },
    { filename: 'logo.svg', data: bytes.vector },
    { filename: 'doc.pdf', data: bytes.doc },
  ]);
  assert.is(res.status, 201, res.text);
  [image, video, vector, doc] = processed(res) as [MediaRecord, MediaRecord, MediaRecord, MediaRecord];
});

Serve.after(async () => {
  await server?.close();
});

const byName = (r: MediaRecord): string => `/api/media/projects/${P}${r.path}`;
const byId = (r: MediaRecord): string => `/api/media/projects/${P}/media/${r.id}`;
const get = (path: string, headers: Record<string, string> = {}): Promise<Res> => server.request('GET', path, { headers });

function checkFileHeaders(res: Res, type: string): void {
  assert.is(res.headers['content-type'], type);
  assert.is(res.headers['x-content-type-options'], 'nosniff');
  assert.is(res.headers['accept-ranges'], 'bytes');
  assert.match(String(res.headers.etag), /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(Number.isFinite(Date.parse(String(res.headers['last-modified']))));
  assert.is(res.headers['cache-control'], 'no-cache');
}

Serve('full file by id and by name: bytes, type, validators', async () => {
  for (const [record, key, type] of [
    [image, 'image', 'image/png'],
    [video, 'video', 'video/mp4'],
    [doc, 'doc', 'application/pdf'],
  ] as const) {
    for (const path of [byId(record), byName(record)]) {
      const res = await get(path);
      assert.is(res.status, 200, path);
      checkFileHeaders(res, type);
      assert.is(res.headers['content-length'], String(bytes[key]!.byteLength));
      assert.ok(res.body.equals(bytes[key]!), path);
      assert.is(res.headers['content-security-policy'], undefined);
    }
  }
  const variant = await get(`/api/media/projects/${P}${image.sizes.thumb!.path}`);
  assert.is(variant.status, 200);
  checkFileHeaders(variant, 'image/png');
  assert.is(variant.body.byteLength, image.sizes.thumb!.size);
});

Serve('SVG is served with a sandboxing Content-Security-Policy', async () => {
  for (const path of [byId(vector), byName(vector)]) {
    const res = await get(path);
    assert.is(res.status, 200);
    checkFileHeaders(res, 'image/svg+xml');
    assert.match(String(res.headers['content-security-policy']), /sandbox/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(res.body.equals(bytes.vector!));
  }
});

Serve('ranges: first bytes, open-ended, suffix, clamped end, suffix longer than the file', async () => {
  const size = bytes.video!.byteLength;
  const cases: Array<[string, number, number]> = [
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, size - 1],
    ['bytes=-50', size - 50, size - 1],
    ['bytes=8000-999999', 8000, size - 1],
    ['bytes=-999999', 0, size - 1],
    ['bytes=5-5', 5, 5],
  ];
  for (const [range, start, end] of cases) {
    for (const path of [byId(video), byName(video)]) {
      const res = await get(path, { range });
      assert.is(res.status, 206, `${range} ${res.text.slice(0, 100)}`);
      assert.is(res.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
      assert.is(res.headers['content-length'], String(end - start + 1), range);
      assert.ok(res.body.equals(bytes.video!.subarray(start, end + 1)), range);
      assert.is(res.headers['content-type'], 'video/mp4');
    }
  }
});

Serve('unsatisfiable range → 416 with Content-Range: bytes */size; malformed or multiple ranges → 200 whole file', async () => {
  const size = bytes.video!.byteLength;
  for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
    const res = await get(byName(video), { range });
    assertError(res, 416, 'RANGE_NOT_SATISFIABLE');
    assert.is(res.headers['content-range'], `bytes */${size}`, range);
    assert.is(res.json.size, size);
  }
  for (const range of ['bytes=0-10,20-30', 'items=0-10', 'bytes=10-5', 'bytes=abc']) {
    const res = await get(byName(video), { range });
    assert.is(res.status, 200, range);
    assert.ok(res.body.equals(bytes.video!), range);
  }
});

Serve('conditional requests: If-None-Match and If-Modified-Since → 304; If-Range', async () => {
  const first = await get(byName(image));
  const etag = String(first.headers.etag);
  const lastModified = String(first.headers['last-modified']);

  const conditionals: Array<Record<string, string>> = [{ 'if-none-match': etag }, { 'if-none-match': `W/${etag}` }, { 'if-none-match': `"other", ${etag}` }, { 'if-modified-since': lastModified }];
  for (const headers of conditionals) {
    const res = await get(byName(image), headers);
    assert.is(res.status, 304, JSON.stringify(headers));
    assert.is(res.body.byteLength, 0);
    assert.is(res.headers.etag, etag);
  }
  const byIdRes = await get(byId(image), { 'if-none-match': etag });
  assert.is(byIdRes.status, 304);

  const stale = await get(byName(image), { 'if-none-match': '"stale"' });
  assert.is(stale.status, 200);
  assert.ok(stale.body.equals(bytes.image!));
  const older = await get(byName(image), { 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() });
  assert.is(older.status, 200);
  // If-None-Match wins over If-Modified-Since.
  const both = await get(byName(image), { 'if-none-match': '"stale"', 'if-modified-since': lastModified });
  assert.is(both.status, 200);

  const rangeOk = await get(byName(image), { range: 'bytes=0-9', 'if-range': etag });
  assert.is(rangeOk.status, 206);
  const rangeStale = await get(byName(image), { range: 'bytes=0-9', 'if-range': '"stale"' });
  assert.is(rangeStale.status, 200);
  assert.is(rangeStale.body.byteLength, bytes.image!.byteLength);
});

Serve('HEAD answers headers only', async () => {
  const res = await server.request('HEAD', byName(video));
  assert.is(res.status, 200);
  assert.is(res.headers['content-length'], String(bytes.video!.byteLength));
  assert.is(res.headers['content-type'], 'video/mp4');
  assert.is(res.body.byteLength, 0);
});

// What the server opens cannot be observed from here (it does not go through
// the storage worker's file seam), so the name claims only what is checked:
// the answer, that no byte of a target leaks into it, and an unchanged tree.
Serve('traversal attempts (encoded and not) are refused with a stable code, leak no file content and change nothing on disk', async () => {
  const before = await hashTree(server.dataDir);
  /** text only the traversal targets hold: project.json's and media.json's keys */
  const leaked = (text: string) => text.includes('"createdAt"') || text.includes('"files"');
  const base = `/api/media/projects/${P}/uploads`;
  const invalidName: string[] = [
    `${base}/images/..%2F..%2Fproject.json`,
    `${base}/images/..%2Fmedia.json`,
    `${base}/images/%2E%2E%2Fmedia.json`,
    `${base}/images/%2e%2e`,
    `${base}/images/..%5C..%5Cproject.json`,
    `${base}/images/pic%00.png`,
    `${base}/images/.hidden`,
    `${base}/images/%252e%252e%252fmedia.json`,
    `${base}/images/${'a'.repeat(300)}.png`,
  ];
  for (const path of invalidName) {
    const res = await get(path);
    assertError(res, 400, 'INVALID_ID');
    assert.is(res.json.param, 'filename', path);
    assert.not.ok(leaked(res.text), `${path} leaked file content`);
  }
  const notRoutes: string[] = [
    `${base}/images/../media.json`,
    `${base}/images/../../project.json`,
    `${base}/media.json`,
    `${base}/..%2F/media.json`,
    `${base}/thumbs/pic.png`,
    `/api/media/projects/${P}/uploads/images/a/b.png`,
  ];
  for (const path of notRoutes) {
    const res = await get(path);
    assertError(res, 404, 'NOT_FOUND');
    assert.not.ok(leaked(res.text), `${path} leaked file content`);
  }
  for (const path of [`/api/media/projects/..%2F..%2Fetc/uploads/images/pic.png`, `/api/media/projects/${P}%00/uploads/images/pic.png`]) {
    const res = await get(path);
    assertError(res, 400, 'INVALID_ID');
    assert.not.ok(leaked(res.text), `${path} leaked file content`);
  }
  assert.is(await hashTree(server.dataDir), before);
});

Serve('a symlink inside an upload folder is not followed', async () => {
  const link = join(uploadsDir(server, P), 'images', 'link.png');
  await symlink(join(server.dataDir, 'projects', P, 'project.json'), link);
  try {
    assertError(await get(`/api/media/projects/${P}/uploads/images/link.png`), 404, 'MEDIA_NOT_FOUND');
  } finally {
    await unlink(link);
  }
});

Serve('unknown file, id, project; a record whose binary is missing', async () => {
  assertError(await get(`/api/media/projects/${P}/uploads/images/nothing.png`), 404, 'MEDIA_NOT_FOUND');
  assertError(await get(`/api/media/projects/nope/uploads/images/pic.png`), 404, 'PROJECT_NOT_FOUND');
  assertError(await get(`/api/media/projects/${P}/media/00000000-0000-0000-0000-000000000000`), 404, 'MEDIA_NOT_FOUND');
  assertError(await get(`/api/media/projects/nope/media/${image.id}`), 404, 'PROJECT_NOT_FOUND');
  assertError(await get(`/api/media/projects/${P}/media/not.an.id`), 400, 'INVALID_ID');
  await unlink(join(uploadsDir(server, P), 'images', doc.filename)); // the editor keeps a PDF in images/
  assertError(await get(byId(doc)), 404, 'MEDIA_NOT_FOUND');
  assertError(await get(byName(doc)), 404, 'MEDIA_NOT_FOUND');
});

Serve.run();
