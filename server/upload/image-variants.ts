/**
 * Raster images: dimensions and the size variants the editor shows
 * (`thumb` 150, `small` 480, `medium` 1024, `large` 1920 px wide), each in the
 * original's format and only when narrower than the original.
 *
 * Decompression bombs: a few kilobytes of PNG can declare 50,000 × 50,000
 * pixels. The dimensions are read from the header first (no decoding) and
 * checked against the pixel limit; sharp's own `limitInputPixels` guards the
 * decode as a second line.
 *
 * Corrupt pixel data: the header alone says nothing about the pixels behind
 * it (a PNG with a valid IHDR and garbage IDAT, a JPEG cut off halfway), and
 * an image narrower than the smallest variant is never resized, so it would
 * be stored undecoded. Every raster upload is therefore decoded in full
 * before it is accepted: making a variant decodes every pixel and frame of
 * the source (a JPEG shrunk on load still reads all of its entropy-coded
 * data: truncation and corrupt segments fail it as they fail a full decode),
 * and an image too small for any variant goes through `verifyDecodes`.
 * Decoding twice would cost ~60 ms on a 1600×1200 JPEG here.
 */
import { join } from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import type { MediaSizeVariant } from '../../shared/media-types.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import { ioError } from '../io-error.js';
import type { UploadFs } from './upload-fs.js';

export const VARIANT_WIDTHS: ReadonlyArray<readonly [name: string, width: number]> = [
  ['thumb', 150],
  ['small', 480],
  ['medium', 1024],
  ['large', 1920],
];

export interface RasterInfo {
  /** as displayed (EXIF orientation applied) */
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'gif' | 'webp';
  pages: number;
}

/**
 * An image refused for what it is, with the code the upload answers:
 * PAYLOAD_TOO_LARGE for more pixels than allowed (decompression-bomb
 * protection), INVALID_IMAGE for anything that does not decode. The caller
 * reads the code; the message is for people.
 */
export class ImageRejected extends Error {
  override readonly name = 'ImageRejected';
  constructor(
    readonly code: 'INVALID_IMAGE' | 'PAYLOAD_TOO_LARGE',
    message: string,
  ) {
    super(message);
  }
}

const RASTER_FORMATS = new Set(['jpeg', 'png', 'gif', 'webp']);

/**
 * What makes a decode fail: libvips warnings too (sharp's default, said once
 * here for both decodes), because a truncated JPEG is only a warning
 * ("premature end of JPEG image") and would otherwise decode as grey.
 */
const FAIL_ON = 'warning';

export async function readRasterInfo(path: string, maxPixels: number): Promise<RasterInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageRejected('INVALID_IMAGE', `the image could not be read (${cleanMessage(err, path)})`);
  }
  const pages = meta.pages ?? 1;
  const frameHeight = meta.pageHeight ?? meta.height;
  const pixels = meta.width * frameHeight * pages;
  if (pixels > maxPixels) {
    throw new ImageRejected(
      'PAYLOAD_TOO_LARGE',
      `the image is ${meta.width}×${frameHeight} px${pages > 1 ? ` × ${pages} frames` : ''} = ${pixels} pixels, over the limit of ${maxPixels} (decompression-bomb protection)`,
    );
  }
  if (!RASTER_FORMATS.has(meta.format)) throw new ImageRejected('INVALID_IMAGE', `the decoder sees ${meta.format}, not the detected type`);
  const swapped = (meta.orientation ?? 1) >= 5;
  return {
    width: swapped ? frameHeight : meta.width,
    height: swapped ? meta.width : frameHeight,
    format: meta.format as RasterInfo['format'],
    pages,
  };
}

/**
 * Decodes every pixel of every frame, so corrupt or truncated image data is
 * refused before the upload is accepted. Two sinks, same decode: into a raw
 * buffer for images up to RAW_DECODE_MAX_PIXELS (fast: ~0.5 ms for an icon),
 * and `stats()` beyond, a streaming sink that keeps only per-channel sums —
 * memory stays flat where a raw buffer could reach 400 MB at the pixel limit
 * — but costs ~5 ms even for an icon.
 */
export async function verifyDecodes(path: string, info: RasterInfo, maxPixels: number): Promise<void> {
  const decoder = sharp(path, { limitInputPixels: maxPixels, failOn: FAIL_ON, animated: info.pages > 1 });
  try {
    if (info.width * info.height * info.pages <= RAW_DECODE_MAX_PIXELS) await decoder.raw().toBuffer();
    else await decoder.stats();
  } catch (err) {
    throw corrupt(err, path);
  }
}

/** 4 Mpx: a raw decode holds at most 16 MB (4 bytes a pixel). */
const RAW_DECODE_MAX_PIXELS = 4_000_000;

function corrupt(err: unknown, path: string): ImageRejected {
  return new ImageRejected('INVALID_IMAGE', `the image data is corrupt or truncated (${cleanMessage(err, path)})`);
}

/**
 * Writes the variants next to the original as `<stem>.<variant>.<ext>`. The
 * names derive from the original's exclusively claimed name, so no other
 * upload can be writing them. Returns what was written even on failure (via
 * `written`) so the caller can remove it.
 */
export async function writeVariants(
  source: string,
  dir: string,
  urlDir: string,
  stem: string,
  ext: string,
  info: RasterInfo,
  maxPixels: number,
  fs: UploadFs,
  blobs: BlobStore,
  written: string[],
): Promise<Record<string, MediaSizeVariant>> {
  const sizes: Record<string, MediaSizeVariant> = {};
  for (const [name, width] of VARIANT_WIDTHS) {
    if (width >= info.width) continue;
    let out: { data: Buffer; info: OutputInfo };
    try {
      out = await sharp(source, { limitInputPixels: maxPixels, failOn: FAIL_ON, animated: info.pages > 1 })
        .autoOrient()
        .resize({ width })
        .toFormat(info.format)
        .toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw corrupt(err, source);
    }
    const filename = `${stem}.${name}.${ext}`;
    const path = join(dir, filename);
    written.push(path);
    try {
      // Fsynced before close: a variant is acknowledged with its upload, so it must be on disk too.
      await blobs.put(path, out.data, (handle) => fs.syncFile(handle, path));
    } catch (err) {
      throw ioError(err, `Writing the ${name} variant`);
    }
    sizes[name] = {
      path: `${urlDir}/${filename}`,
      filename,
      width: out.info.width,
      height: out.info.pageHeight ?? out.info.height,
      size: out.data.byteLength,
    };
  }
  return sizes;
}

/** sharp's message without the server's file path. */
function cleanMessage(err: unknown, path: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(path).join('<file>').split('\n')[0] ?? 'unknown error';
}
