/**
 * The error mapper shapes every StorageError: a 409 MEDIA_IN_USE carries the
 * file and where it is used (the route no longer builds that body by hand),
 * and a 4xx carries only the details a client can act on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import { mapError } from '../../server/http/error-responder.js';

const T = suite('error-responder');

T('MEDIA_IN_USE is a 409 naming the file and its sources', () => {
  const err = new StorageError('MEDIA_IN_USE', 'a.jpg is in use by home and was not deleted', { fileId: 'f1', filename: 'a.jpg', usedIn: ['home'] });
  const mapped = mapError(err, 'req-1');
  assert.is(mapped.status, 409);
  assert.equal(mapped.body, { error: 'a.jpg is in use by home and was not deleted', code: 'MEDIA_IN_USE', fileId: 'f1', filename: 'a.jpg', usedIn: ['home'] });
});

T('a 4xx carries the limit it broke, and no other detail', () => {
  assert.equal(mapError(new StorageError('TOO_DEEP', 'deep', { maxDepth: 64 }), 'r').body, { error: 'deep', code: 'TOO_DEEP', maxDepth: 64 });
  assert.equal(mapError(new StorageError('MEDIA_NOT_FOUND', 'gone', { fileId: 'f1' }), 'r').body, { error: 'gone', code: 'MEDIA_NOT_FOUND' });
});

T.run();
