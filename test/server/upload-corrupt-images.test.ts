/**
 * Issue 12: an image whose header is valid but whose pixel data is not (a
 * PNG with garbage IDAT, a JPEG cut off halfway) is refused with
 * INVALID_IMAGE and nothing of it is stored. The small ones matter most: an
 * image narrower than the smallest variant is never resized, so only a full
 * decode sees the damage.
 */
import { crc32 } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { raster } from '../fixtures/media-samples.js';
import { assertError, hashTree, listTree, processed, startServer, uploadsDir, type TestServer } from './harness.js';

const Corrupt = suite('upload: corrupt image data');

let server: TestServer;
const P = 'corrupt';

Corrupt.before(async () => {
  server = await startServer('upload-corrupt');
  await server.createProject('Corrupt', P);
});

Corrupt.after(async () => {
  await server?.close();
});

/** The same PNG with every IDAT payload replaced by garbage of the same length (CRCs fixed, so only the pixels are wrong). */
function garbageIdat(png: Buffer): Buffer {
  const out: Buffer[] = [png.subarray(0, 8)];
  for (let offset = 8; offset < png.byteLength; ) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    let chunk = png.subarray(offset, offset + 12 + length);
    if (type === 'IDAT') {
      const data = Buffer.alloc(length);
      for (let i = 0; i < length; i++) data[i] = (i * 131 + 17) & 0xff;
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from('IDAT', 'latin1'), data])), 0);
      chunk = Buffer.concat([chunk.subarray(0, 8), data, crc]);
    }
    out.push(chunk);
    offset += 12 + length;
  }
  return Buffer.concat(out);
}

function rejectionOf(res: { json: Record<string, unknown> }): { code: string; reason: string; originalName: string } {
  return (res.json.rejectedFiles as Array<{ code: string; reason: string; originalName: string }>)[0]!;
}

const CASES: Array<{ name: string; make: () => Promise<Buffer> }> = [
  // 40 px wide: below every variant width, so no resize ever touched the pixels.
  { name: 'small.png', make: async () => garbageIdat(await raster('png', 40, 30)) },
  { name: 'large.png', make: async () => garbageIdat(await raster('png', 400, 300)) },
  // Narrow (no variant) but over 4 Mpx: decoded by the streaming sink, not into a buffer.
  { name: 'tall.png', make: async () => garbageIdat(await tall()) },
  { name: 'small.jpg', make: async () => truncate(await raster('jpeg', 40, 30)) },
  { name: 'large.jpg', make: async () => truncate(await raster('jpeg', 400, 300)) },
  // Wide enough for variants: their shrink-on-load decode must still read every scan.
  { name: 'progressive.jpg', make: async () => truncate(await sharp(await raster('jpeg', 1200, 300)).jpeg({ progressive: true }).toBuffer()) },
];

/** 100 × 42,000 px of one colour: no variant (≤ 150 px wide), 4.2 Mpx, ~100 KB. */
function tall(): Promise<Buffer> {
  return sharp({ create: { width: 100, height: 42_000, channels: 3, background: '#336699' } }).png().toBuffer();
}

/** Cut halfway through the entropy-coded data: every header segment (up to SOS) stays whole, so only a decode can tell. */
function truncate(jpeg: Buffer): Buffer {
  const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  assert.ok(sos > 0, 'no SOS marker');
  return jpeg.subarray(0, sos + Math.floor((jpeg.byteLength - sos) / 2));
}

for (const { name, make } of CASES) {
  Corrupt(`${name} with a valid header and bad pixel data: 400 INVALID_IMAGE, data tree unchanged`, async () => {
    const data = await make();
    // The damage is behind a header that reads fine: only decoding finds it.
    const meta = await sharp(data).metadata();
    assert.ok(meta.width > 0 && meta.height > 0);
    const before = await hashTree(server.dataDir);
    const res = await server.upload(P, [{ filename: name, data }]);
    assertError(res, 400, 'UPLOAD_REJECTED');
    const rejected = rejectionOf(res);
    assert.is(rejected.code, 'INVALID_IMAGE');
    assert.is(rejected.originalName, name);
    assert.match(rejected.reason, /corrupt or truncated/);
    assert.not.match(rejected.reason, new RegExp(server.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.is(await hashTree(server.dataDir), before);
  });
}

Corrupt('a corrupt image next to a good one: the good one is stored, the corrupt one leaves nothing', async () => {
  const before = await listTree(uploadsDir(server, P));
  const res = await server.upload(P, [
    { filename: 'good.png', data: await raster('png', 200, 100) },
    { filename: 'bad.png', data: garbageIdat(await raster('png', 60, 60)) },
  ]);
  assert.is(res.status, 201, res.text);
  const [record] = processed(res);
  assert.is(record!.originalName, 'good.png');
  assert.is(rejectionOf(res).code, 'INVALID_IMAGE');
  const added = (await listTree(uploadsDir(server, P))).filter((f) => !before.includes(f) && f !== 'media.json' && f !== 'media.json.bak');
  assert.equal(added.sort(), ['images/good.png', 'images/good.thumb.png'].sort());
});

Corrupt('intact images of every raster type are still accepted', async () => {
  const res = await server.upload(P, [
    { filename: 'ok.png', data: await raster('png', 40, 30) },
    { filename: 'ok.jpg', data: await raster('jpeg', 40, 30) },
    { filename: 'ok.gif', data: await raster('gif', 40, 30) },
    { filename: 'ok.webp', data: await raster('webp', 40, 30) },
    { filename: 'ok-tall.png', data: await tall() },
  ]);
  assert.is(res.status, 201, res.text);
  assert.is(processed(res).length, 5);
  assert.equal(res.json.rejectedFiles, []);
});

Corrupt.run();
