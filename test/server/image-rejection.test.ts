/**
 * An image refusal carries its code: the upload answers it without reading
 * the message (PAYLOAD_TOO_LARGE for too many pixels, INVALID_IMAGE for
 * anything that does not decode).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageRejected, readRasterInfo, verifyDecodes } from '../../server/upload/image-variants.js';
import { raster } from '../fixtures/media-samples.js';
import { rejectionOf } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const T = suite('image-rejection');

let dir = '';
T.before(async () => {
  dir = await makeTempDir('image-rejection');
});
T.after(async () => {
  await removeTempDir(dir);
});

function refusal(work: Promise<unknown>): Promise<ImageRejected> {
  return rejectionOf(work, ImageRejected);
}

T('more pixels than allowed is PAYLOAD_TOO_LARGE', async () => {
  const path = join(dir, 'big.png');
  await writeFile(path, await raster('png', 20, 20));
  assert.is((await refusal(readRasterInfo(path, 399))).code, 'PAYLOAD_TOO_LARGE');
  assert.is((await readRasterInfo(path, 400)).width, 20);
});

T('bytes that are no image, or a truncated one, are INVALID_IMAGE', async () => {
  const garbage = join(dir, 'garbage.png');
  await writeFile(garbage, Buffer.from('not an image at all'));
  assert.is((await refusal(readRasterInfo(garbage, 1_000_000))).code, 'INVALID_IMAGE');

  const whole = await raster('jpeg', 64, 64);
  const truncated = join(dir, 'truncated.jpg');
  await writeFile(truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const info = { width: 64, height: 64, format: 'jpeg' as const, pages: 1 };
  assert.is((await refusal(verifyDecodes(truncated, info, 1_000_000))).code, 'INVALID_IMAGE');
});

T.run();
