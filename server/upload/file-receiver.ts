/**
 * Receives one uploaded file from the multipart stream, chunk by chunk.
 *
 *   head    buffer the first bytes (≤ ~4 KB) until the type can be sniffed;
 *           the size cap depends on that type, so nothing is written before
 *   disk    binary types: claim a unique name (exclusive create) and stream
 *           into it, counting bytes against the kind's cap; fsynced before
 *           close, like every variant (the folders are the caller's)
 *   memory  SVG candidates: kept in memory (≤ the image cap) because the
 *           whole document must be parsed before it may be stored
 *   discard rejected or failed: the rest of the part is read and dropped
 *
 * The stream is always read to its end, whatever happens: busboy cannot
 * finish the request (nor start the next part) while a file stream is left
 * unread, and destroying a part's stream stalls it for good.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StorageError } from '../../shared/errors.js';
import { initialMetadataFor, type NewMediaRecord } from '../../shared/media-types.js';
import { servedFolderOf } from '../../shared/project-paths.js';
import { errnoCode } from '../../shared/errno.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import type { UploadLimits } from '../config.js';
import { ioError } from '../io-error.js';
import { claimName, type ClaimedName } from './claim-name.js';
import type { FileHandle } from 'node:fs/promises';
import { ImageRejected, readRasterInfo, verifyDecodes, writeVariants } from './image-variants.js';
import { ACCEPTED_LABELS, SVG_TYPE, type AcceptedType } from './media-kinds.js';
import { extensionOf, storedNameSlug } from './slug.js';
import { stageName, type NameClaim, type StagedNames } from './upload-name-claim.js';
import { SNIFF_BYTES, sniff } from './sniff.js';
import { inspectSvg } from './svg-inspect.js';
import type { UploadFs } from './upload-fs.js';

export interface UploadTarget {
  /** `<dataDir>/projects/<projectId>/uploads` */
  uploadsDir: string;
  limits: UploadLimits;
  maxImagePixels: number;
  /** fsyncs every file written (the caller fsyncs their folders before committing) */
  fs: UploadFs;
  blobs: BlobStore;
  /** how a stored name is claimed (upload-name-claim.ts) */
  nameClaim: NameClaim;
}

export type RejectionCode = 'UNSUPPORTED_MEDIA_TYPE' | 'PAYLOAD_TOO_LARGE' | 'INVALID_IMAGE' | 'UNSAFE_SVG' | 'TOO_MANY_FILES' | 'UNEXPECTED_FIELD';

export interface Rejection {
  originalName: string;
  reason: string;
  code: RejectionCode;
}

export interface PreparedFile {
  record: NewMediaRecord;
  /** absolute paths written for it: size variants first, the original last */
  paths: string[];
  /** present when written under a staging name: the name is claimed at commit (upload-name-claim.ts) */
  staged?: StagedNames;
}

export type FileOutcome = { ok: true; file: PreparedFile } | { ok: false; rejection: Rejection };

type Mode = 'head' | 'memory' | 'disk' | 'discard';

export class FileReceiver {
  private mode: Mode = 'head';
  private chunks: Buffer[] = [];
  private received = 0;
  private type: AcceptedType | undefined;
  private claimed: ClaimedName | undefined;
  private staged: StagedNames | undefined;
  private rejection: Rejection | undefined;
  /** an I/O failure, thrown once the stream has been read to its end */
  private failure: unknown;
  private readonly written: string[] = [];

  constructor(
    private readonly target: UploadTarget,
    private readonly originalName: string,
  ) {}

  /** Reads `stream` to its end; resolves with the outcome or rejects with an I/O failure (nothing left on disk). */
  async receive(stream: Readable & { truncated?: boolean }): Promise<FileOutcome> {
    try {
      for await (const chunk of stream) await this.push(chunk as Buffer);
      if (this.mode === 'head') await this.decide();
      if (stream.truncated && this.mode !== 'discard') await this.tooLarge();
      if (this.failure !== undefined) throw this.failure;
      if (this.rejection) return { ok: false, rejection: this.rejection };
      const file = await this.finish();
      if (this.failure !== undefined) throw this.failure;
      if (this.rejection) return { ok: false, rejection: this.rejection };
      if (!file) throw new Error('upload finished without a file or a reason');
      return { ok: true, file };
    } catch (err) {
      await this.removeWritten();
      throw err;
    }
  }

  private async push(chunk: Buffer): Promise<void> {
    this.received += chunk.byteLength;
    switch (this.mode) {
      case 'head':
        this.chunks.push(chunk);
        if (this.received >= SNIFF_BYTES) await this.decide();
        return;
      case 'memory':
        if (this.received > this.cap()) return this.tooLarge();
        this.chunks.push(chunk);
        return;
      case 'disk':
        if (this.received > this.cap()) return this.tooLarge();
        try {
          await writeAll(this.claimed!.handle, chunk);
        } catch (err) {
          await this.fail(ioError(err, 'Writing an upload'));
        }
        return;
      case 'discard':
        return;
    }
  }

  private async decide(): Promise<void> {
    const head = Buffer.concat(this.chunks);
    const sniffed = await sniff(head.subarray(0, SNIFF_BYTES));
    if (sniffed.verdict === 'unsupported') {
      return this.reject('UNSUPPORTED_MEDIA_TYPE', `The content is ${sniffed.detected}; accepted types are ${ACCEPTED_LABELS} (decided from the bytes, not the name)`);
    }
    const type = sniffed.verdict === 'accepted' ? sniffed.type : SVG_TYPE;
    const clientExt = extensionOf(this.originalName);
    if (clientExt !== '' && !type.extensions.includes(clientExt)) {
      return this.reject('UNSUPPORTED_MEDIA_TYPE', `The content is ${type.label}${sniffed.verdict === 'svg-candidate' ? ' (or other XML)' : ''} but the name ends in .${clientExt}; the type is decided from the bytes and a mismatch is refused`);
    }
    this.type = type;
    if (this.received > this.cap()) return this.tooLarge();
    if (sniffed.verdict === 'svg-candidate') {
      this.mode = 'memory';
      return;
    }
    try {
      this.claimed = await this.claim(join(this.target.uploadsDir, type.folder), type.ext);
      this.written.push(this.claimed.path);
      await writeAll(this.claimed.handle, head);
    } catch (err) {
      return this.fail(ioError(err, 'Storing an upload'));
    }
    this.chunks = [];
    this.mode = 'disk';
  }

  private async finish(): Promise<PreparedFile | undefined> {
    const type = this.type!;
    const folderDir = join(this.target.uploadsDir, type.folder);
    const urlDir = servedFolderOf(type.folder);
    let width: number | null = null;
    let height: number | null = null;
    let sizes: NewMediaRecord['sizes'] = {};

    if (this.mode === 'memory') {
      const body = Buffer.concat(this.chunks);
      this.chunks = [];
      const verdict = inspectSvg(body.toString('utf8'));
      if (!verdict.ok) {
        const code = verdict.notSvg ? 'UNSUPPORTED_MEDIA_TYPE' : 'UNSAFE_SVG';
        await this.reject(code, verdict.notSvg ? `The content is ${verdict.reason}; accepted types are ${ACCEPTED_LABELS}` : verdict.reason);
        return undefined;
      }
      try {
        this.claimed = await this.claim(folderDir, type.ext);
        this.written.push(this.claimed.path);
        await writeAll(this.claimed.handle, body);
      } catch (err) {
        throw ioError(err, 'Storing an upload');
      }
    }
    const claimed = this.claimed!;
    try {
      await this.target.fs.syncFile(claimed.handle, claimed.path);
      await claimed.handle.close();
    } catch (err) {
      throw ioError(err, 'Storing an upload');
    }

    if (type.raster) {
      try {
        const info = await readRasterInfo(claimed.path, this.target.maxImagePixels);
        width = info.width;
        height = info.height;
        const stem = claimed.filename.slice(0, -(type.ext.length + 1));
        // Variants are listed before the original so cleanup removes them first:
        // an orphaned variant must never outlive its original.
        const variantPaths: string[] = [];
        try {
          sizes = await writeVariants(claimed.path, folderDir, urlDir, stem, type.ext, info, this.target.maxImagePixels, this.target.fs, this.target.blobs, variantPaths);
        } finally {
          this.written.unshift(...variantPaths);
        }
        // Making a variant decoded every pixel; an image too small for any must be decoded here.
        if (Object.keys(sizes).length === 0) await verifyDecodes(claimed.path, info, this.target.maxImagePixels);
      } catch (err) {
        if (!(err instanceof ImageRejected)) throw err;
        await this.reject(err.code, `Image refused: ${err.message}`);
        return undefined;
      }
    }

    const record = editorRecord(type, claimed.filename, this.originalName, this.received, `${urlDir}/${claimed.filename}`, width, height, sizes);
    return { record, paths: [...this.written], ...(this.staged ? { staged: this.staged } : {}) };
  }

  /** The final name now (exclusive create), or a staging name whose final name the commit claims. */
  private async claim(dir: string, ext: string): Promise<ClaimedName> {
    const slug = storedNameSlug(this.originalName);
    if (this.target.nameClaim === 'exclusive-create') return claimName(this.target.blobs, dir, slug, ext);
    const { claimed, staged } = await stageName(this.target.blobs, dir, slug, ext);
    this.staged = staged;
    return claimed;
  }

  private cap(): number {
    return this.type ? this.target.limits[this.type.kind] : Number.POSITIVE_INFINITY;
  }

  private async tooLarge(): Promise<void> {
    const type = this.type;
    const reason = type
      ? `The file is larger than the ${type.label} limit of ${this.target.limits[type.kind]} bytes`
      : 'The file is larger than the upload limit';
    await this.reject('PAYLOAD_TOO_LARGE', reason);
  }

  private async reject(code: RejectionCode, reason: string): Promise<void> {
    this.rejection = { originalName: this.originalName, reason, code };
    this.mode = 'discard';
    this.chunks = [];
    await this.removeWritten();
  }

  private async fail(err: unknown): Promise<void> {
    this.failure ??= err;
    this.mode = 'discard';
    this.chunks = [];
    await this.removeWritten();
  }

  /** Closes the claimed file and removes everything written for it (variants first). */
  private async removeWritten(): Promise<void> {
    if (this.claimed) {
      await this.claimed.handle.close().catch(() => undefined); // already closed, or failing disk: the unlink below is what matters
    }
    const paths = this.written.splice(0);
    // A missing file is fine: never created (a failed write) or already removed.
    const [failed] = await this.target.blobs.remove(paths);
    if (failed) this.failure ??= new StorageError('STORAGE_IO', `Removing a rejected upload failed (${failed.errno})`, { errno: failed.errno });
  }
}

/** FileHandle.write may write less than asked (a full disk, a signal): loop until all is out. */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/**
 * A new record in the editor's own shape (EDITOR-FORMAT.md), so the editor
 * reads mediastore's uploads like its own: the editor's metadata keys (`alt`,
 * `title` for images and other files; `title`, `description` for video and
 * audio), width/height keys only for raster images (none for SVG, video,
 * audio, PDF), `thumbnail: null` for videos, and no usedIn (the storage adds
 * it when usage is first set). Variants are `{ path, width, height }` plus
 * mediastore's `filename` and `size` (see MediaSizeVariant).
 */
function editorRecord(
  type: AcceptedType,
  filename: string,
  originalName: string,
  size: number,
  path: string,
  width: number | null,
  height: number | null,
  sizes: NewMediaRecord['sizes'],
): NewMediaRecord {
  return {
    id: randomUUID(),
    filename,
    originalName,
    type: type.mime,
    size,
    uploaded: new Date().toISOString(),
    path,
    metadata: initialMetadataFor(type.mime),
    ...(type.raster ? { width, height } : {}),
    sizes,
    ...(type.kind === 'video' ? { thumbnail: null } : {}),
  };
}
