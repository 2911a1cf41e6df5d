/**
 * Serialises a media document to exactly the bytes of
 * `JSON.stringify(doc, null, 2)`, re-encoding only the records that changed.
 *
 * Serialisation is the largest CPU cost of a commit (2–3 ms at 1,000
 * records, ~30 ms at 10,000) and it runs on the storage worker's only thread,
 * where it delays every message and every other project. A batch changes a
 * handful of records; the store's copy-on-write drafts give each changed
 * record a new object, so a cache keyed by object identity is invalidated by
 * construction: an unchanged record is the very same object and reuses its
 * encoded bytes. The output goes straight into a SharedArrayBuffer, which is
 * also what list reads hand to the main thread.
 */
import type { MediaDocument, MediaRecord } from '../shared/media-types.js';

const HEAD = Buffer.from('{\n  "files": [\n');
const SEPARATOR = Buffer.from(',\n');
const TAIL = Buffer.from('\n  ]\n}');
const EMPTY = Buffer.from('{\n  "files": []\n}');

export class IncrementalSerializer {
  private cache = new WeakMap<MediaRecord, Buffer>();

  /** UTF-8 JSON of `doc` in a fresh SharedArrayBuffer (never written to again). */
  serialize(doc: MediaDocument): Uint8Array {
    // Anything beyond `files` (fields another tool added) takes the plain path.
    if (Object.keys(doc).length !== 1 || !Array.isArray(doc.files)) return sharedUtf8(JSON.stringify(doc, null, 2));
    const files = doc.files;
    if (files.length === 0) return sharedCopy([EMPTY], EMPTY.length);
    const parts: Buffer[] = new Array(files.length * 2 + 1);
    let total = HEAD.length + TAIL.length + SEPARATOR.length * (files.length - 1);
    parts[0] = HEAD;
    for (let i = 0; i < files.length; i++) {
      const rec = files[i] as MediaRecord;
      let bytes = this.cache.get(rec);
      if (bytes === undefined) {
        // A record sits two levels deep (object → files array): four spaces.
        bytes = Buffer.from(`    ${JSON.stringify(rec, null, 2).replace(/\n/g, '\n    ')}`);
        this.cache.set(rec, bytes);
      }
      total += bytes.length;
      parts[i * 2 + 1] = bytes;
      parts[i * 2 + 2] = i === files.length - 1 ? TAIL : SEPARATOR;
    }
    return sharedCopy(parts, total);
  }

  /** Forget every cached record (after a reload the old objects are gone anyway). */
  clear(): void {
    this.cache = new WeakMap();
  }
}

/** UTF-8 of `text` in a fresh SharedArrayBuffer. */
export function sharedUtf8(text: string): Uint8Array {
  const bytes = new Uint8Array(new SharedArrayBuffer(Buffer.byteLength(text)));
  Buffer.from(bytes.buffer, 0, bytes.byteLength).write(text);
  return bytes;
}

function sharedCopy(parts: Buffer[], total: number): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(total));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
