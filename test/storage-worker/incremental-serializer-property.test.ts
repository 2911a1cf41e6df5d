/**
 * Property: whatever the records hold, the incremental serializer writes
 * exactly `JSON.stringify(doc, null, 2)` — for the editor's shapes (no
 * usedIn, no width/height, `thumbnail: null`, variants without filename),
 * for unknown fields anywhere in key order, and for hostile string values
 * (the serializer once cut a record at a marker string: a field holding that
 * string made media.json invalid). Documents then go through copy-on-write
 * edits as the store's drafts make them, so the reuse paths are exercised too.
 */
import * as fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, MediaRecord } from '../../shared/media-types.js';
import { IncrementalSerializer } from '../../storage-worker/incremental-serializer.js';

const test = suite('IncrementalSerializer (property)');

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** Strings that look like structure, markers or escapes, plus arbitrary unicode. */
const hostile = fc.oneof(
  fc.constantFrom(
    '\u0000mediastore:usedIn\u0000',
    '"\u0000mediastore:usedIn\u0000"',
    '"usedIn": ',
    'usedIn',
    '\n      ]',
    '},\n    {',
    '\\',
    '"',
    '\u2028\u2029',
    '\ud800',
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ maxLength: 12 }),
);

const json = fc.jsonValue({ maxDepth: 3 }).map((v) => v as unknown);
const extraKey = fc.oneof(hostile, fc.constantFrom('usedInLegacy', 'folder', 'alt', '0', '10', 'focalPoint'));
const extras = fc.dictionary(extraKey.filter((k) => !KNOWN.has(k)), fc.oneof(json, hostile), { maxKeys: 3 });
const KNOWN = new Set(['id', 'filename', 'originalName', 'type', 'size', 'uploaded', 'path', 'metadata', 'width', 'height', 'sizes', 'thumbnail', 'usedIn']);

const editorVariant = fc.record({ path: hostile.map((s) => `/uploads/images/${s}`), width: fc.nat(4000), height: fc.nat(4000) });
const kind = fc.constantFrom('image', 'svg', 'video', 'audio', 'pdf');

/** A record as the editor writes it (or mediastore, with usedIn), with unknown fields before and after usedIn. */
const record = fc
  .record({
    id: fc.uuid(),
    kind,
    name: hostile,
    meta: fc.dictionary(fc.constantFrom('alt', 'title', 'description', 'caption'), hostile, { maxKeys: 3 }),
    sizes: fc.dictionary(fc.constantFrom('thumb', 'small', 'medium', 'large', 'hero'), editorVariant, { maxKeys: 3 }),
    usedIn: fc.option(fc.array(hostile, { maxLength: 3 }), { nil: undefined }),
    before: extras,
    after: extras,
  })
  .map(({ id, kind, name, meta, sizes, usedIn, before, after }): MediaRecord => {
    const folder = kind === 'video' ? 'videos' : kind === 'audio' ? 'audios' : 'images';
    const rec: Record<string, unknown> = {
      ...before,
      id,
      filename: name,
      originalName: name,
      type: { image: 'image/png', svg: 'image/svg+xml', video: 'video/mp4', audio: 'audio/mpeg', pdf: 'application/pdf' }[kind],
      size: 1234,
      uploaded: '2026-01-05T10:00:00.000Z',
      path: `/uploads/${folder}/${name}`,
      metadata: meta,
    };
    if (kind === 'image') Object.assign(rec, { width: 2000, height: 1000 });
    rec.sizes = kind === 'image' ? sizes : {};
    if (kind === 'video') rec.thumbnail = null;
    if (usedIn !== undefined) rec.usedIn = usedIn;
    Object.assign(rec, after);
    return rec as unknown as MediaRecord;
  });

/** One copy-on-write edit, as a draft makes it: the changed record is a new object. */
const edit = fc.record({
  at: fc.nat(),
  what: fc.constantFrom('usage', 'usage-first-time', 'metadata', 'extra', 'remove', 'add', 'same'),
  value: hostile,
  key: extraKey,
  added: record,
});
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function applyEdit(files: MediaRecord[], e: Edit): MediaRecord[] {
  if (files.length === 0 || e.what === 'add') return files.some((f) => f.id === e.added.id) ? files : [...files, e.added];
  const i = e.at % files.length;
  const rec = files[i]!;
  let next: MediaRecord;
  switch (e.what) {
    case 'usage': // only usedIn changes (the split path), metadata copied with the same values
      next = { ...rec, metadata: { ...rec.metadata } };
      if (rec.usedIn) next.usedIn = [...rec.usedIn, e.value];
      break;
    case 'usage-first-time': // the key appears at the end, as the draft adds it
      next = { ...rec, metadata: { ...rec.metadata }, usedIn: [...(rec.usedIn ?? []), e.value] };
      break;
    case 'metadata':
      next = { ...rec, metadata: { ...rec.metadata, title: e.value } };
      break;
    case 'extra':
      next = { ...rec, [e.key]: e.value } as MediaRecord;
      if (KNOWN.has(e.key)) next = rec;
      break;
    case 'remove':
      return files.filter((_, j) => j !== i);
    default:
      return files;
  }
  return files.map((f, j) => (j === i ? next : f));
}

test('equals JSON.stringify(doc, null, 2) byte for byte, through copy-on-write edits', () => {
  fc.assert(
    fc.property(fc.uniqueArray(record, { selector: (r) => r.id, maxLength: 6 }), fc.array(edit, { maxLength: 12 }), (start, edits) => {
      const serializer = new IncrementalSerializer();
      let files = start;
      const check = () => {
        const doc: MediaDocument = { files };
        const out = text(serializer.serialize(doc));
        assert.is(out, JSON.stringify(doc, null, 2));
        JSON.parse(out); // and it is JSON
      };
      check();
      for (const e of edits) {
        files = applyEdit(files, e);
        check();
      }
    }),
    { numRuns: 400 },
  );
});

test('a field holding the old marker string is written as itself (regression)', () => {
  const serializer = new IncrementalSerializer();
  const rec = {
    id: 'a',
    filename: 'a.png',
    type: 'image/png',
    path: '/uploads/images/a.png',
    metadata: { alt: '\u0000mediastore:usedIn\u0000' },
    sizes: {},
    usedIn: ['home'],
  } as MediaRecord;
  const doc: MediaDocument = { files: [rec] };
  const out = text(serializer.serialize(doc));
  assert.is(out, JSON.stringify(doc, null, 2));
  assert.equal(JSON.parse(out), doc);
});

test.run();
