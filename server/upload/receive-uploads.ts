/**
 * Streams a multipart upload request through busboy into the upload
 * folders. Each file part goes through a `FileReceiver` (sniff, cap, claim a
 * name, write, inspect, make variants); nothing is committed here — the
 * caller commits the records (commit-uploads.ts), which also decides what
 * becomes of the binaries if that fails.
 *
 * Whole-request failures (the hard request cap, a malformed body, a disk
 * error) remove every binary this request wrote before rejecting.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { StorageError } from '../../shared/errors.js';
import { HttpError } from '../http/http-error.js';
import { FileReceiver, type FileOutcome, type PreparedFile, type Rejection, type UploadTarget } from './file-receiver.js';
import { removeFiles } from './remove-binaries.js';
import { baseName } from './slug.js';

export interface UploadOptions extends UploadTarget {
  maxFiles: number;
  maxRequestBytes: number;
  /** the multipart field holding files */
  field: string;
}

export interface ReceivedUploads {
  prepared: PreparedFile[];
  rejected: Rejection[];
}

export async function receiveUploads(req: IncomingMessage, options: UploadOptions): Promise<ReceivedUploads> {
  const largestCap = Math.max(...Object.values(options.limits));
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      // Browsers send UTF-8 file names; busboy's default (latin1) would mangle them.
      defParamCharset: 'utf8',
      // busboy stops a part one byte past the largest cap; the receiver
      // enforces the per-kind cap (smaller) on its own count.
      limits: { fileSize: largestCap + 1, fields: 100, fieldSize: 64 * 1024, parts: options.maxFiles * 4 + 100 },
    });
  } catch (err) {
    throw new HttpError(400, 'INVALID_INPUT', `Malformed multipart request: ${err instanceof Error ? err.message : String(err)}`);
  }

  const tasks: Array<Promise<FileOutcome>> = [];
  const track = (task: Promise<FileOutcome>): void => {
    // A file can fail (disk error) while later parts are still streaming; its
    // rejection is collected by allSettled below, but only after the whole
    // body is read — mark it handled now so Node does not treat it as an
    // unhandled rejection in the meantime.
    task.catch(() => undefined);
    tasks.push(task);
  };
  // Part streams not yet ended. When the body turns out malformed halfway
  // through a part, busboy stops without ending that part's stream: its
  // receiver would wait for the rest forever (found by the multipart fuzz test).
  const open = new Set<Readable>();
  let files = 0;
  parser.on('file', (field, stream, info) => {
    files += 1;
    open.add(stream);
    stream.once('close', () => open.delete(stream));
    stream.once('end', () => open.delete(stream));
    const originalName = cleanOriginalName(info.filename);
    if (field !== options.field) {
      track(drainAndReject(stream, { originalName, code: 'UNEXPECTED_FIELD', reason: `Files are expected in the \`${options.field}\` field, not \`${field}\`` }));
    } else if (files > options.maxFiles) {
      track(drainAndReject(stream, { originalName, code: 'TOO_MANY_FILES', reason: `At most ${options.maxFiles} files per request; this one was not stored` }));
    } else {
      track(new FileReceiver(options, originalName).receive(stream));
    }
  });

  // Not pipeline(req, …): on failure pipeline destroys its source, and
  // destroying the request destroys the socket — the client would get a reset
  // instead of the 413.
  const counter = new RequestByteCap(options.maxRequestBytes);
  const onAbort = (): void => {
    if (!req.complete) counter.destroy(new HttpError(400, 'INVALID_INPUT', 'The upload was aborted by the client'));
  };
  req.once('close', onAbort);
  req.once('error', onAbort);
  req.pipe(counter);

  let requestError: HttpError | StorageError | undefined;
  try {
    await pipeline(counter, parser);
  } catch (err) {
    requestError = err instanceof HttpError || err instanceof StorageError ? err : new HttpError(400, 'INVALID_INPUT', `Malformed multipart request: ${err instanceof Error ? err.message : String(err)}`);
    req.unpipe(counter);
    req.resume();
    // End the parts cut off by the failure; their receivers then remove what they wrote.
    for (const stream of open) stream.destroy(requestError);
  } finally {
    req.off('close', onAbort);
    req.off('error', onAbort);
  }

  const settled = await Promise.allSettled(tasks);
  const prepared: PreparedFile[] = [];
  const rejected: Rejection[] = [];
  let fileError: unknown;
  for (const s of settled) {
    if (s.status === 'rejected') fileError ??= s.reason;
    else if (s.value.ok) prepared.push(s.value.file);
    else rejected.push(s.value.rejection);
  }
  const failure = requestError ?? fileError;
  if (failure !== undefined) {
    await removeFiles(options.blobs, prepared.flatMap((p) => p.paths));
    throw failure;
  }
  return { prepared, rejected };
}

/** Counts request bytes and fails the stream once the hard cap is passed. */
class RequestByteCap extends Transform {
  private seen = 0;
  constructor(private readonly cap: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.byteLength;
    if (this.seen > this.cap) {
      done(new HttpError(413, 'PAYLOAD_TOO_LARGE', `The upload request is larger than ${this.cap} bytes`, { limit: this.cap }, { Connection: 'close' }));
      return;
    }
    done(null, chunk);
  }
}

async function drainAndReject(stream: NodeJS.ReadableStream, rejection: Rejection): Promise<FileOutcome> {
  // Read and drop: a part left unread would stall the whole request (see FileReceiver).
  for await (const _ of stream) void _;
  return { ok: false, rejection };
}

/** The client's name as shown in the library: last path segment, no control characters, ≤ 255 chars. */
function cleanOriginalName(name: string | undefined): string {
  const cleaned = baseName(name ?? '')
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim()
    .slice(0, 255);
  return cleaned === '' ? 'file' : cleaned;
}
