/**
 * The lowdb adapter of one project's media.json: AtomicJsonFile (unique
 * temp, fsync, rename, directory fsync, .bak, retries) plus memory of the
 * exact bytes and file signature of the last read or write. The store serves
 * list reads from those bytes without re-serialising or copying, and compares the
 * signature with the file on disk to notice another process's commit.
 */
import type { Adapter } from 'lowdb';
import type { MediaDocument } from '../shared/media-types.js';
import { AtomicJsonFile, type AtomicFileWarning } from './atomic-json-file.js';
import type { FsSeam } from './fs-seam.js';
import { IncrementalSerializer, sharedUtf8 } from './incremental-serializer.js';
import { parseMediaDocument, serializeMediaDocument } from './media-document-schema.js';

export interface FileVersion {
  /**
   * The document's JSON exactly as on disk, in a SharedArrayBuffer: a list
   * read hands this view to the main thread without copying a byte (each
   * version gets a new buffer and is never written to again).
   */
  json: Uint8Array;
  signature: string | null;
  bytes: number;
  retries: number;
}

export class MediaDocumentFile implements Adapter<MediaDocument> {
  readonly atomic: AtomicJsonFile<MediaDocument>;
  /** what the last read or write saw on disk; null before the first */
  last: FileVersion | null = null;
  private readonly serializer = new IncrementalSerializer();

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
      this.last = { json: sharedUtf8(serializeMediaDocument({ files: [] })), signature: null, bytes: 0, retries: 0 };
      return null;
    }
    const json = sharedUtf8(got.text);
    this.last = { json, signature: got.signature, bytes: json.byteLength, retries: 0 };
    return got.data;
  }

  async write(data: MediaDocument): Promise<void> {
    const json = this.serializer.serialize(data);
    const result = await this.atomic.writeText(json, { validated: this.serializer.lastOutputValidated });
    this.last = { json, signature: result.signature, bytes: result.bytes, retries: result.retries };
  }
}
