/**
 * The lowdb adapter of one project's media.json: AtomicJsonFile (unique
 * temp, fsync, rename, directory fsync, .bak, retries) plus memory of the
 * exact bytes and file signature of the last read or write. The store serves
 * list reads from those bytes without re-serialising or copying, and compares the
 * signature with the file on disk to notice another process's commit.
 *
 * The signature is `<stat signature>#<generation nonce>` (generation-file.ts):
 * the stat part notices a file replaced by hand or by an older tool, the nonce
 * notices every commit of ours even where timestamps are whole seconds and
 * inode numbers are reused.
 */
import type { Adapter } from 'lowdb';
import type { MediaDocument } from '../shared/media-types.js';
import { generationFileOf } from '../shared/project-paths.js';
import { AtomicJsonFile, type AtomicFileWarning } from './atomic-json-file.js';
import type { FsSeam } from './fs-seam.js';
import { statSignature } from './file-signature.js';
import { GenerationFile } from './generation-file.js';
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
  readonly generation: GenerationFile;
  /**
   * Set by the store while it holds the project lock: checked right before
   * every rename that publishes a new media.json (a throw publishes nothing).
   */
  fence: (() => Promise<void>) | undefined;
  /**
   * The last write's stat signature may equal an earlier version's (its mtime
   * bump was rounded away): only a new generation nonce tells them apart.
   */
  lastWriteAmbiguous = false;
  /** what the last read or write saw on disk; null before the first */
  last: FileVersion | null = null;
  private readonly serializer = new IncrementalSerializer();

  constructor(
    readonly path: string,
    private readonly fs: FsSeam,
    hooks: { onRetry: (code: string) => void; onWarning: (w: AtomicFileWarning) => void },
  ) {
    this.generation = new GenerationFile(generationFileOf(path), fs);
    this.atomic = new AtomicJsonFile<MediaDocument>(path, {
      fs,
      parse: (text) => parseMediaDocument(text),
      stringify: serializeMediaDocument,
      keepBackup: true,
      onRetry: hooks.onRetry,
      onWarning: hooks.onWarning,
      versionOf: () => this.versionNow(),
    });
  }

  /** The signature of media.json on disk now (null: no file). The nonce is read first (see generation-file.ts). */
  async versionNow(): Promise<string | null> {
    const generation = await this.generation.read();
    const stat = await statSignature(this.fs, this.path);
    return stat === null ? null : `${stat}#${generation}`;
  }

  /**
   * Replaces the generation nonce after a batch renamed its files into place
   * (before it acknowledges anything), and notes the new signature as ours.
   */
  async publish(): Promise<void> {
    const generation = await this.generation.bump();
    if (this.last?.signature) this.last.signature = `${this.last.signature.slice(0, this.last.signature.indexOf('#'))}#${generation}`;
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
    const previous = this.last?.signature ?? null;
    const generation = previous === null ? await this.generation.read() : previous.slice(previous.indexOf('#') + 1);
    const fence = this.fence;
    const result = await this.atomic.writeText(json, {
      validated: this.serializer.lastOutputValidated,
      ...(fence ? { beforeRename: fence } : {}),
    });
    // Until publish() replaces the nonce, disk holds the new file under the old nonce.
    this.lastWriteAmbiguous = !result.newerMtime;
    this.last = { json, signature: `${result.signature}#${generation}`, bytes: result.bytes, retries: result.retries };
  }
}
