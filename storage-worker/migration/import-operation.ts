/**
 * The ProjectStore operation `mediastore export` writes a library with: the
 * records as they are (`usedIn` in place, unknown fields kept) and the
 * content files, in one batch through the file backend's own write path
 * (under media.json.lock, unique temp → fsync → rename → directory fsync,
 * `.bak`, generation nonce, fenced renames). Only into an empty library:
 * export never merges into one that holds records.
 *
 * The content files go out with each source's marks as the records carry
 * them (not as extraction would compute them): the export writes back
 * exactly what was stored, and the file backend reconciles usage with the
 * content on its first write of a process, as it does for the editor's data.
 */
import { StorageError } from '../../shared/errors.js';
import type { MediaRecord, UsageSource } from '../../shared/media-types.js';
import type { Operation } from '../operation.js';
import { idsMarkedBy } from './project-image.js';

export function importLibrary(records: readonly MediaRecord[], content: ReadonlyArray<[UsageSource, string]>): Operation<void> {
  return {
    kind: 'importLibrary',
    apply(draft, actions) {
      if (draft.build().files.length > 0) {
        throw new StorageError('INVALID_INPUT', 'the library already holds records: an export writes only into an empty one');
      }
      for (const rec of records) draft.add(structuredClone(rec));
      for (const [source, text] of content) actions.write(source, text, idsMarkedBy(records, source));
    },
  };
}
