/**
 * Reads a JSON request body with a byte limit, without a body-parser
 * dependency: the declared length is checked before reading, the counted
 * length while reading (a chunked body has no declared length), the nesting
 * depth while reading (MAX_JSON_DEPTH: the parsed value is later cloned to
 * the storage worker and serialised, and both recurse), and the text is
 * parsed once. Only `application/json` (or `+json`) in UTF-8 is accepted —
 * which also keeps out the `text/plain` bodies that HTML forms can send
 * cross-site without a preflight.
 */
import type { IncomingMessage } from 'node:http';
import type { ParameterizedContext } from 'koa';
import { MAX_JSON_DEPTH, tooDeepError } from '../../shared/json-depth.js';
import { HttpError } from './http-error.js';
import { JsonNestingScanner } from './json-nesting.js';

export async function readJsonBody(ctx: ParameterizedContext, limit: number): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Expected a JSON body (Content-Type: application/json), got ${JSON.stringify(ctx.get('content-type'))}`);
  }
  const charset = ctx.request.charset;
  if (charset !== '' && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Expected UTF-8 JSON, got charset ${JSON.stringify(charset)}`);
  }
  const encoding = ctx.get('content-encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(encoding)} is not supported`);
  }
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) throw tooLarge(limit);

  const body = await readLimited(ctx.req, limit);
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'INVALID_JSON', 'The request body is empty; expected JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : 'unparseable';
    throw new HttpError(400, 'INVALID_JSON', `Malformed JSON body: ${detail}`);
  }
}

/**
 * Collects the body, failing once it passes `limit`. Not `for await`: leaving
 * that loop early destroys the IncomingMessage, which destroys the socket, and
 * the client would see a reset instead of the 413. Past the limit the rest is
 * read and discarded until the answer has gone out (with `Connection: close`).
 */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const nesting = new JsonNestingScanner(MAX_JSON_DEPTH);
    const onData = (chunk: Buffer): void => {
      received += chunk.byteLength;
      if (received > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      if (!nesting.feed(chunk)) {
        // The rest (under the byte limit) is drained, not buffered.
        cleanup();
        req.resume();
        reject(tooDeepError(nesting.maxDepth));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new HttpError(400, 'INVALID_JSON', `The request body could not be read: ${err.message}`));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: ask Node to drop the connection after
  // the answer instead of draining an arbitrarily large upload.
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The JSON body is larger than ${limit} bytes`, { limit }, { Connection: 'close' });
}
