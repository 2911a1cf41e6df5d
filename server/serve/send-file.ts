/**
 * Sends one stored binary with the headers a media library needs: the
 * Content-Type decided from the stored bytes (served-type.ts; anything
 * outside the upload allowlist is a download), `nosniff`, byte ranges (video/audio
 * seeking), and validators (ETag, Last-Modified) for 304s. SVG gets a
 * sandboxing CSP so that, opened directly, it cannot run script even if it
 * carries some (files stored before upload inspection existed).
 *
 * Stored names are reused after a delete (`photo.jpg` can come back with other
 * bytes), so responses are `no-cache`: the browser keeps them but revalidates.
 */
import type { ParameterizedContext } from 'koa';
import type { BlobStore, OpenBlob } from '../blob-store/blob-store.js';
import { HttpError } from '../http/http-error.js';
import { ioError } from '../io-error.js';
import { parseRange } from './byte-range.js';
import { servedTypeOf } from './served-type.js';

export const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/** Thrown when the file does not exist (or is not a regular file); the caller decides which 404 it is. */
export class FileMissing extends Error {
  override readonly name = 'FileMissing';
}

/** `filename` is the stored name (validated by the caller): it tells SVG apart and names a download. */
export async function sendFile(ctx: ParameterizedContext, blobs: BlobStore, absPath: string, filename: string): Promise<void> {
  let blob: OpenBlob | undefined;
  try {
    blob = await blobs.open(absPath);
  } catch (err) {
    throw ioError(err, 'Opening a stored file');
  }
  if (!blob) throw new FileMissing(absPath);
  const { handle, size, mtimeMs } = blob;
  let streaming = false;
  try {
    const etag = `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
    const lastModified = new Date(Math.floor(mtimeMs / 1000) * 1000);

    const { contentType, download } = await servedTypeOf(handle, filename);
    ctx.set('Content-Type', contentType);
    if (download) ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('ETag', etag);
    ctx.set('Last-Modified', lastModified.toUTCString());
    ctx.set('Cache-Control', 'no-cache');
    if (contentType === 'image/svg+xml') ctx.set('Content-Security-Policy', SVG_CSP);

    if (notModified(ctx, etag, lastModified)) {
      ctx.status = 304;
      return;
    }

    let start = 0;
    let end = size - 1;
    const rangeHeader = ctx.get('range');
    if (rangeHeader !== '' && rangeStillValid(ctx.get('if-range'), etag, lastModified)) {
      const range = parseRange(rangeHeader, size);
      if (range.kind === 'unsatisfiable') {
        throw new HttpError(416, 'RANGE_NOT_SATISFIABLE', `Range ${JSON.stringify(rangeHeader)} is outside the file (${size} bytes)`, { size }, {
          'Content-Range': `bytes */${size}`,
          'Accept-Ranges': 'bytes',
        });
      }
      if (range.kind === 'range') {
        start = range.start;
        end = range.end;
        ctx.status = 206;
        ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
      }
    }
    if (ctx.status !== 206) ctx.status = 200;
    if (size === 0) {
      ctx.body = Buffer.alloc(0);
      return;
    }
    // The stream owns the handle from here (autoClose); Koa destroys it when
    // the response finishes or the client goes away, HEAD included.
    ctx.body = handle.createReadStream({ start, end, autoClose: true });
    ctx.length = end - start + 1;
    streaming = true;
  } finally {
    if (!streaming) await handle.close();
  }
}

/** If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
function notModified(ctx: ParameterizedContext, etag: string, lastModified: Date): boolean {
  const inm = ctx.get('if-none-match');
  if (inm !== '') {
    if (inm.trim() === '*') return true;
    return inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
  }
  const ims = ctx.get('if-modified-since');
  if (ims !== '') {
    const since = Date.parse(ims);
    return Number.isFinite(since) && lastModified.getTime() <= since;
  }
  return false;
}

/** If-Range: the range applies only if the client's validator still matches. */
function rangeStillValid(ifRange: string, etag: string, lastModified: Date): boolean {
  if (ifRange === '') return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) return ifRange === etag;
  const date = Date.parse(ifRange);
  return Number.isFinite(date) && lastModified.getTime() <= date;
}
