import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMetadataPatch, initialMetadataFor, MAX_METADATA_LENGTH, metadataFieldsFor, type MediaMetadata } from '../../shared/media-types.js';

const T = suite('media-metadata');

const TYPES = ['image/jpeg', 'image/svg+xml', 'application/pdf', 'video/mp4', 'audio/mpeg'];

T('a new record starts with the editor keys of its kind: alt/title, or title/description for video and audio', () => {
  assert.equal(initialMetadataFor('image/png'), { alt: '', title: '' });
  assert.equal(initialMetadataFor('application/pdf'), { alt: '', title: '' });
  assert.equal(initialMetadataFor('video/mp4'), { title: '', description: '' });
  assert.equal(initialMetadataFor('audio/mpeg'), { title: '', description: '' });
});

T('every key a new record starts with is one its type lets a patch edit', () => {
  for (const type of TYPES) {
    const editable = metadataFieldsFor(type);
    for (const key of Object.keys(initialMetadataFor(type))) assert.ok(editable.includes(key as never), `${type}: ${key}`);
  }
});

T('a patch writes only the fields the type keeps, cut to the limit, and keeps every other key', () => {
  const metadata: MediaMetadata = { alt: 'old', title: 'old', editorOwn: 7 };
  applyMetadataPatch(metadata, 'image/png', { alt: 'x'.repeat(MAX_METADATA_LENGTH + 10), description: 'ignored', caption: 'c' });
  assert.equal(metadata, { alt: 'x'.repeat(MAX_METADATA_LENGTH), title: 'old', editorOwn: 7, caption: 'c' });

  const timed: MediaMetadata = { title: '', description: '' };
  applyMetadataPatch(timed, 'video/mp4', { alt: 'ignored', caption: 'ignored', description: 'd' });
  assert.equal(timed, { title: '', description: 'd' });
});

T.run();
