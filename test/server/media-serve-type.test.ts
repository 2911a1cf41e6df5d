/**
 * The type a stored file is served with comes from its bytes against the
 * upload allowlist, never from the record: a legacy record typed text/html
 * (what the browser declared at upload) is a download, not a page on the
 * editor's origin. Range, ETag and 304 behave the same for downloads.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaFolder, NewMediaRecord } from '../../shared/media-types.js';
import { SVG_CSP } from '../../server/serve/send-file.js';
import { raster } from '../fixtures/media-samples.js';
import { startServer, uploadsDir, type Res, type TestServer } from './harness.js';

const Types = suite('server serving types');

let server: TestServer;
const P = 'types';
const HTML = Buffer.from('<!doctype html><html><body><script>alert(document.domain)</script></body></html>\n');
let png: Buffer;

/** A record as an older editor wrote it (type = the browser's claim), with its bytes on disk. */
async function legacy(id: string, folder: MediaFolder, filename: string, type: string, bytes: Buffer): Promise<void> {
  const dir = join(uploadsDir(server, P), folder);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, filename), bytes);
  const record: NewMediaRecord = {
    id,
    filename,
    originalName: filename,
    type,
    size: bytes.byteLength,
    uploaded: '2026-01-01T00:00:00.000Z',
    path: `/uploads/${folder}/${filename}`,
    metadata: {},
    width: null,
    height: null,
    sizes: {},
  };
  await server.storage.addMedia(P, [record]);
}

Types.before(async () => {
  server = await startServer('serve-types');
  await server.createProject('Types', P);
  png = await raster('png', 40, 30, 1);
  await legacy('html-page', 'files', 'page.html', 'text/html', HTML);
  await legacy('html-as-png', 'images', 'fake.png', 'image/png', HTML);
  await legacy('png-as-html', 'images', 'real.png', 'text/html', png);
  await legacy('html-as-svg', 'images', 'fake.svg', 'image/svg+xml', HTML);
  await legacy('no-extension', 'files', 'blob', 'text/html', Buffer.from('<p>hi</p>'));
});

Types.after(async () => {
  await server?.close();
});

const byId = (id: string, headers: Record<string, string> = {}): Promise<Res> => server.request('GET', `/api/media/projects/${P}/media/${id}`, { headers });
const byName = (folder: string, name: string): Promise<Res> => server.request('GET', `/api/media/projects/${P}/uploads/${folder}/${name}`);

function assertDownload(res: Res, filename: string): void {
  assert.is(res.status, 200, res.text);
  assert.is(res.headers['content-type'], 'application/octet-stream');
  assert.is(res.headers['content-disposition'], `attachment; filename="${filename}"`);
  assert.is(res.headers['x-content-type-options'], 'nosniff');
}

Types('a legacy record typed text/html is served as a download of opaque bytes, by id and by name', async () => {
  for (const res of [await byId('html-page'), await byName('files', 'page.html')]) {
    assertDownload(res, 'page.html');
    assert.ok(res.body.equals(HTML));
  }
});

Types('HTML bytes are a download whatever the record or the name claims (.png, no extension)', async () => {
  assertDownload(await byId('html-as-png'), 'fake.png');
  assertDownload(await byName('images', 'fake.png'), 'fake.png');
  assertDownload(await byId('no-extension'), 'blob');
});

Types('bytes of an allowed type are served as that type even when the record says text/html', async () => {
  const res = await byId('png-as-html');
  assert.is(res.status, 200);
  assert.is(res.headers['content-type'], 'image/png');
  assert.is(res.headers['content-disposition'], undefined);
  assert.ok(res.body.equals(png));
});

Types('text named .svg is served as SVG only with the sandboxing CSP', async () => {
  const res = await byId('html-as-svg');
  assert.is(res.headers['content-type'], 'image/svg+xml');
  assert.is(res.headers['content-security-policy'], SVG_CSP);
});

Types('a download keeps ranges, ETag and 304', async () => {
  const full = await byId('html-page');
  const etag = String(full.headers.etag);
  const part = await byId('html-page', { range: 'bytes=0-8' });
  assert.is(part.status, 206);
  assert.is(part.headers['content-range'], `bytes 0-8/${HTML.byteLength}`);
  assert.is(part.headers['content-type'], 'application/octet-stream');
  assert.ok(part.body.equals(HTML.subarray(0, 9)));
  const cached = await byId('html-page', { 'if-none-match': etag });
  assert.is(cached.status, 304);
  assert.is(cached.body.byteLength, 0);
});

Types.run();
