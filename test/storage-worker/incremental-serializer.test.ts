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

test('a changed record (a new object) is re-encoded; unchanged ones are reused', () => {
  const s = new IncrementalSerializer();
  const files = records(20);
  const first = { files };
  assert.is(text(s.serialize(first)), JSON.stringify(first, null, 2));
  // Copy-on-write, as the store's drafts do: record 5 is replaced, 7 removed, one added.
  const changed = { ...files[5]!, usedIn: ['about'], metadata: { ...files[5]!.metadata, alt: 'new' } };
  const next = { files: [...files.slice(0, 5), changed, files[6]!, ...files.slice(8), records(1)[0]!] };
  assert.is(text(s.serialize(next)), JSON.stringify(next, null, 2));
});

test('fields beyond `files` take the plain path and are kept', () => {
  const s = new IncrementalSerializer();
  const doc = { files: records(3), version: 2 } as unknown as MediaDocument;
  assert.is(text(s.serialize(doc)), JSON.stringify(doc, null, 2));
});

test.run();
