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

/**
 * A record's encoding split around its `usedIn` value, which is what most
 * commits change (every usage save rewrites the usedIn of a few records):
 * while every other field is the very same value, only usedIn is re-encoded.
 */
interface SplitEncoding {
  base: MediaRecord;
  keys: string[];
  prefix: Buffer;
  suffix: Buffer;
}

const USED_IN_MARK = '\u0000mediastore:usedIn\u0000';
const USED_IN_MARK_JSON = JSON.stringify(USED_IN_MARK);

export class IncrementalSerializer {
  private cache = new WeakMap<MediaRecord, Buffer>();
  private splits = new Map<string, SplitEncoding>();

  /** UTF-8 JSON of `doc` in a fresh SharedArrayBuffer (never written to again). */
  serialize(doc: MediaDocument): Uint8Array {
    // Anything beyond `files` (fields another tool added) takes the plain path.
    if (Object.keys(doc).length !== 1 || !Array.isArray(doc.files)) return sharedUtf8(JSON.stringify(doc, null, 2));
    const files = doc.files;
    if (files.length === 0) return sharedCopy([EMPTY], EMPTY.length);
    const parts: Buffer[] = new Array(files.length * 2 + 1);
    const splits = new Map<string, SplitEncoding>();
    let total = HEAD.length + TAIL.length + SEPARATOR.length * (files.length - 1);
    parts[0] = HEAD;
    for (let i = 0; i < files.length; i++) {
      const rec = files[i] as MediaRecord;
      let bytes = this.cache.get(rec);
      const split = this.splits.get(rec.id);
      if (bytes === undefined) {
        bytes = this.encode(rec, split, splits);
        this.cache.set(rec, bytes);
      } else if (split) splits.set(rec.id, split);
      total += bytes.length;
      parts[i * 2 + 1] = bytes;
      parts[i * 2 + 2] = i === files.length - 1 ? TAIL : SEPARATOR;
    }
    this.splits = splits; // records no longer in the document drop out
    return sharedCopy(parts, total);
  }

  private encode(rec: MediaRecord, split: SplitEncoding | undefined, splits: Map<string, SplitEncoding>): Buffer {
    if (!Array.isArray(rec.usedIn)) return Buffer.from(indent(JSON.stringify(rec, null, 2)));
    if (!split || !sameButUsedIn(split, rec)) {
      // Encode once with a marker in place of usedIn, and cut around it.
      const text = indent(JSON.stringify({ ...rec, usedIn: USED_IN_MARK }, null, 2));
      const at = text.indexOf(USED_IN_MARK_JSON);
      split = {
        base: rec,
        keys: Object.keys(rec),
        prefix: Buffer.from(text.slice(0, at)),
        suffix: Buffer.from(text.slice(at + USED_IN_MARK_JSON.length)),
      };
    }
    splits.set(rec.id, split);
    const usedIn = Buffer.from(encodeUsedIn(rec.usedIn));
    return Buffer.concat([split.prefix, usedIn, split.suffix], split.prefix.length + usedIn.length + split.suffix.length);
  }
}

/** A record sits two levels deep (object → files array): four spaces. */
function indent(json: string): string {
  return `    ${json.replace(/\n/g, '\n    ')}`;
}

/** usedIn as JSON.stringify(doc, null, 2) writes it at its depth (items at 8 spaces, bracket at 6). */
function encodeUsedIn(usedIn: string[]): string {
  if (usedIn.length === 0) return '[]';
  let out = '[\n';
  for (let i = 0; i < usedIn.length; i++) out += `${i ? ',\n' : ''}        ${JSON.stringify(usedIn[i])}`;
  return `${out}\n      ]`;
}

/** Every field but usedIn is the same value (metadata compared field by field: drafts copy it). */
function sameButUsedIn(split: SplitEncoding, rec: MediaRecord): boolean {
  const base = split.base as unknown as Record<string, unknown>;
  const next = rec as unknown as Record<string, unknown>;
  let n = 0;
  for (const key in next) {
    if (split.keys[n++] !== key) return false;
    if (key === 'usedIn') continue;
    const a = base[key];
    const b = next[key];
    if (a === b) continue;
    if (key !== 'metadata' || !shallowEqual(a, b)) return false;
  }
  return n === split.keys.length;
}

function shallowEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || (a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false;
  }
  return true;
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
    // Half the parts are the two-byte separator: writing those bytes directly
    // is far cheaper than a typed-array copy call each.
    if (part === SEPARATOR) {
      out[offset] = 0x2c; // ','
      out[offset + 1] = 0x0a; // '\n'
      offset += 2;
      continue;
    }
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
