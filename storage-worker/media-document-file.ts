/**
 * The lowdb adapter of one project's media.json: AtomicJsonFile (unique
 * temp, fsync, rename, directory fsync, .bak, retries) plus memory of the
 * exact text and file signature of the last read or write. The store serves
 * list reads from that text without re-serialising, and compares the
 * signature with the file on disk to notice another process's commit.
 */
import type { Adapter } from 'lowdb';
import type { MediaDocument } from '../shared/media-types.js';
import { AtomicJsonFile, type AtomicFileWarning } from './atomic-json-file.js';
import type { FsSeam } from './fs-seam.js';
import { parseMediaDocument, serializeMediaDocument } from './media-document-schema.js';

export interface FileVersion {
  text: string;
  signature: string | null;
  bytes: number;
  retries: number;
}

export class MediaDocumentFile implements Adapter<MediaDocument> {
  readonly atomic: AtomicJsonFile<MediaDocument>;
  /** what the last read or write saw on disk; null before the first */
  last: FileVersion | null = null;

  constructor(
    readonly path: string,
    fs: FsSeam,
    hooks: { onRetry: (code: string) => void; onWarning: (w: AtomicFileWarning) => void },
  ) {
    this.atomic = new AtomicJsonFile<MediaDocument>(path, {
      fs,
      parse: (text) => parseMediaDocument(text),
      stringify: serializeMediaDocument,
      keepBackup: true,
      onRetry: hooks.onRetry,
      onWarning: hooks.onWarning,
    });
  }

  async read(): Promise<MediaDocument | null> {
    const got = await this.atomic.readWithText();
    if (got === null) {
      this.last = { text: serializeMediaDocument({ files: [] }), signature: null, bytes: 0, retries: 0 };
      return null;
    }
    this.last = { text: got.text, signature: got.signature, bytes: got.text.length, retries: 0 };
    return got.data;
  }

  async write(data: MediaDocument): Promise<void> {
    const text = serializeMediaDocument(data);
    const result = await this.atomic.writeText(text);
    this.last = { text, signature: result.signature, bytes: result.bytes, retries: result.retries };
  }
}
