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
 * The parts are built field by field (never by searching the encoded text
 * for a marker), so no field value, however hostile, can move the cut.
 */
interface SplitEncoding {
  base: MediaRecord;
  keys: string[];
  /** `    {\n` and every field before usedIn, up to and including `"usedIn": ` */
  prefix: Buffer;
  /** every field after usedIn, and the closing brace */
  suffix: Buffer;
}

/** A record sits two levels deep (object → files array): its brace at 4 spaces, its fields at 6. */
const RECORD_INDENT = '    ';
const FIELD_INDENT = '      ';

export class IncrementalSerializer {
  private cache = new WeakMap<MediaRecord, Buffer>();
  private splits = new Map<string, SplitEncoding>();
  /**
   * Whether the last output is known to validate, so it may become `.bak`
   * without being parsed again. It is valid by construction: every record was
   * validated when it was loaded or added (operations change only fields they
   * validate), each is encoded by JSON.stringify — whole, or field by field
   * around usedIn, whose items are JSON.stringify'd strings — and joined by
   * fixed JSON glue; ids are checked unique here. The construction is proven
   * byte-identical to JSON.stringify(doc, null, 2) for arbitrary documents by
   * the property test (incremental-serializer-property.test.ts). Parsing each
   * re-encoded record again cost ~2 ms a commit at 64 changed records (zod),
   * ~20 % of the commit. False when anything could not be vouched for (an
   * unknown top-level field, a duplicate id): the backup step then parses
   * the whole file.
   */
  lastOutputValidated = false;

  /** UTF-8 JSON of `doc` in a fresh SharedArrayBuffer (never written to again). */
  serialize(doc: MediaDocument): Uint8Array {
    // Anything beyond `files` (fields another tool added) takes the plain path.
    this.lastOutputValidated = false;
    if (Object.keys(doc).length !== 1 || !Array.isArray(doc.files)) return sharedUtf8(JSON.stringify(doc, null, 2));
    const files = doc.files;
    if (files.length === 0) {
      this.lastOutputValidated = true;
      return sharedCopy([EMPTY], EMPTY.length);
    }
    const parts: Buffer[] = new Array(files.length * 2 + 1);
    const splits = new Map<string, SplitEncoding>();
    const ids = new Set<string>();
    let validated = true;
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
      if (ids.has(rec.id)) validated = false;
      ids.add(rec.id);
      total += bytes.length;
      parts[i * 2 + 1] = bytes;
      parts[i * 2 + 2] = i === files.length - 1 ? TAIL : SEPARATOR;
    }
    this.splits = splits; // records no longer in the document drop out
    this.lastOutputValidated = validated;
    return sharedCopy(parts, total);
  }

  private encode(rec: MediaRecord, split: SplitEncoding | undefined, splits: Map<string, SplitEncoding>): Buffer {
    // No usedIn key (the editor's records until usage is set): nothing to split around.
    if (!Array.isArray(rec.usedIn)) return Buffer.from(indent(JSON.stringify(rec, null, 2)));
    if (!split || !sameButUsedIn(split, rec)) split = splitAroundUsedIn(rec);
    splits.set(rec.id, split);
    const usedIn = Buffer.from(encodeUsedIn(rec.usedIn));
    return Buffer.concat([split.prefix, usedIn, split.suffix], split.prefix.length + usedIn.length + split.suffix.length);
  }
}

/**
 * The record's fields encoded one by one as JSON.stringify(record, null, 2)
 * writes them at a record's depth, cut at usedIn. Each field's value is
 * encoded on its own and re-indented: JSON never holds a raw newline inside a
 * string, so every newline in an encoded value is structure and takes the
 * field's indent.
 */
function splitAroundUsedIn(rec: MediaRecord): SplitEncoding {
  const keys = Object.keys(rec);
  const before: string[] = [];
  const after: string[] = [];
  let seen = false;
  for (const key of keys) {
    if (key === 'usedIn') {
      seen = true;
      continue;
    }
    const value = JSON.stringify((rec as unknown as Record<string, unknown>)[key], null, 2);
    if (value === undefined) continue; // skipped by JSON.stringify too (undefined, functions)
    (seen ? after : before).push(`${FIELD_INDENT}${JSON.stringify(key)}: ${value.replace(/\n/g, `\n${FIELD_INDENT}`)}`);
  }
  let prefix = `${RECORD_INDENT}{\n`;
  for (const field of before) prefix += `${field},\n`;
  prefix += `${FIELD_INDENT}"usedIn": `;
  let suffix = '';
  for (const field of after) suffix += `,\n${field}`;
  suffix += `\n${RECORD_INDENT}}`;
  return { base: rec, keys, prefix: Buffer.from(prefix), suffix: Buffer.from(suffix) };
}

/** A record sits two levels deep (object → files array): four spaces. */
function indent(json: string): string {
  return `${RECORD_INDENT}${json.replace(/\n/g, `\n${RECORD_INDENT}`)}`;
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
