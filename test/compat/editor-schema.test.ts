/**
 * Where validation draws the line: a library as the editor writes it always
 * opens, with its key order kept; only what cannot be a library (or what
 * mediastore cannot work without) is refused with CORRUPT_DOCUMENT.
 */
import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { writeEditorDataDir } from '../fixtures/editor-data.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('media.json validation');

/** The code a text is refused with, or 'ok'. */
function verdict(text: string): string {
  try {
    parseMediaDocument(text);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

const record = (extra: Record<string, unknown> = {}) => ({
  id: 'a',
  filename: 'a.png',
  type: 'image/png',
  path: '/uploads/images/a.png',
  metadata: {},
  sizes: {},
  ...extra,
});
const doc = (...files: unknown[]) => JSON.stringify({ files }, null, 2);

test('every editor library of the fixture validates, and parses to its own bytes (key order kept)', async () => {
  const dir = await makeTempDir('compat-schema');
  try {
    const data = await writeEditorDataDir(dir);
    for (const project of data.projects) {
      const text = await readFile(project.mediaJson, 'utf8');
      assert.is(JSON.stringify(parseMediaDocument(text), null, 2), text, project.folderName);
    }
  } finally {
    await removeTempDir(dir);
  }
});

test("the editor's shapes and unknown fields are accepted", () => {
  assert.is(verdict(doc(record({ sizes: { thumb: { path: '/uploads/images/a-thumb.png', width: 150, height: 90 } } }))), 'ok', 'variant without filename/size');
  assert.is(verdict(doc(record({ type: 'video/mp4', thumbnail: null }))), 'ok', 'video: thumbnail null, no width/height');
  assert.is(verdict(doc(record({ usedIn: [] }), record({ id: 'b', path: '/uploads/images/b.png' }))), 'ok', 'with and without usedIn');
  assert.is(verdict(doc(record({ future: { nested: [1, 'x'] }, metadata: { alt: '', credit: 'someone' } }))), 'ok', 'unknown fields');
  assert.is(verdict(JSON.stringify({ files: [], version: 3 })), 'ok', 'unknown top-level field');
});

test('what cannot be a library is refused with CORRUPT_DOCUMENT', () => {
  for (const [why, text] of [
    ['not JSON', '{"files": ['],
    ['no files array', '{"media": []}'],
    ['files not an array', '{"files": {}}'],
    ['a record without id', doc({ ...record(), id: undefined })],
    ['an id that is not a string', doc(record({ id: 7 }))],
    ['a record without path', doc({ ...record(), path: undefined })],
    ['duplicate ids', doc(record(), record({ path: '/uploads/images/other.png' }))],
    ['usedIn that is not a list of sources', doc(record({ usedIn: 'home' }))],
    ['a variant without a path (usage matches by path)', doc(record({ sizes: { thumb: { width: 1 } } }))],
  ] as const) {
    assert.is(verdict(text), 'CORRUPT_DOCUMENT', why);
  }
});

test.run();
