import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, MediaRecord } from '../../shared/media-types.js';
import { IncrementalSerializer } from '../../storage-worker/incremental-serializer.js';
import { makeImageRecords } from '../helpers/media-records.js';

const test = suite('IncrementalSerializer');

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

function records(n: number): MediaRecord[] {
  return makeImageRecords(n).map((r, i) => ({
    ...r,
    originalName: i % 3 === 0 ? `Fête “été” ${i} 🎉.jpg` : r.originalName,
    metadata: { alt: `quote " backslash \\ newline \n tab \t ${i}`, caption: '<b>x</b>' },
    usedIn: i % 2 ? ['home', 'global:header'] : [],
  }));
}

test('produces exactly JSON.stringify(doc, null, 2), including non-ASCII and escapes', () => {
  const s = new IncrementalSerializer();
  for (const doc of [{ files: [] }, { files: records(1) }, { files: records(37) }] as MediaDocument[]) {
    const bytes = s.serialize(doc);
    assert.instance(bytes.buffer, SharedArrayBuffer);
    assert.is(text(bytes), JSON.stringify(doc, null, 2));
  }
});

test('a changed record (a new object) is re-encoded, removed and added ones are right, among unchanged ones', () => {
  const s = new IncrementalSerializer();
  const files = records(20);
  const first = { files };
  assert.is(text(s.serialize(first)), JSON.stringify(first, null, 2));
  // Copy-on-write, as the store's drafts do: record 5 is replaced, 7 removed, one added.
  const changed = { ...files[5]!, usedIn: ['about'], metadata: { ...files[5]!.metadata, alt: 'new' } };
  const next = { files: [...files.slice(0, 5), changed, files[6]!, ...files.slice(8), records(1)[0]!] };
  assert.is(text(s.serialize(next)), JSON.stringify(next, null, 2));
});

test('an unchanged record (the very same object) is not read again: its encoded bytes are reused', () => {
  const s = new IncrementalSerializer();
  // Every read of a record's fields goes through a counting getter: a record
  // whose bytes are reused is never read.
  const reads = new Map<string, number>();
  const files = records(10).map((rec) => {
    const { filename, ...rest } = rec;
    const counted = { ...rest } as MediaRecord;
    Object.defineProperty(counted, 'filename', {
      enumerable: true,
      get: () => {
        reads.set(rec.id, (reads.get(rec.id) ?? 0) + 1);
        return filename;
      },
    });
    return counted;
  });
  const first = { files };
  const firstText = text(s.serialize(first));
  assert.ok(reads.size === 10, 'the first serialisation reads every record');
  assert.is(firstText, JSON.stringify(first, null, 2));
  // Record 3 changes (a new object, as drafts make); the others are the same objects.
  const changed = { ...files[3]!, metadata: { ...files[3]!.metadata, alt: 'changed' } };
  const next = { files: [...files.slice(0, 3), changed, ...files.slice(4)] };
  reads.clear();
  const nextText = text(s.serialize(next));
  assert.equal([...reads.keys()], [], 'no unchanged record was read again');
  assert.is(nextText, JSON.stringify(next, null, 2));
});

test('fields beyond `files` take the plain path and are kept', () => {
  const s = new IncrementalSerializer();
  const doc = { files: records(3), version: 2 } as unknown as MediaDocument;
  assert.is(text(s.serialize(doc)), JSON.stringify(doc, null, 2));
});

test('random copy-on-write edits over many commits always match JSON.stringify', () => {
  const s = new IncrementalSerializer();
  let files = records(30);
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    files = files.map((rec) => {
      switch (rand(8)) {
        case 0: // usage changed: usedIn replaced, metadata copied with the same values (as drafts do)
          return { ...rec, metadata: { ...rec.metadata }, usedIn: rec.usedIn?.includes('p') ? rec.usedIn.filter((x) => x !== 'p') : [...(rec.usedIn ?? []), 'p'] };
        case 1: // metadata edited
          return { ...rec, metadata: { ...rec.metadata, caption: `c${round}` }, usedIn: [...(rec.usedIn ?? [])] };
        case 2: // a field another tool added, before usedIn in key order
          return { ...rec, extra: round } as MediaRecord;
        default:
          return rec;
      }
    });
    if (rand(5) === 0) files = [...files.slice(1), records(1)[0]!];
    const doc = { files };
    assert.is(text(s.serialize(doc)), JSON.stringify(doc, null, 2), `round ${round}`);
  }
});

test.run();
