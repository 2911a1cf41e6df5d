/**
 * The operations a batch applies to a project's draft. Each validates first
 * and mutates after, so an operation that fails alone changes nothing, and
 * each is expressed as an intent (not a diff) so it applies just as well to a
 * document another process changed since this one last read it.
 */
import { StorageError } from '../shared/errors.js';
import type {
  DeleteMediaResult,
  MediaRecord,
  MetadataPatch,
  NewMediaRecord,
  RefreshUsageResult,
  SaveContentResult,
} from '../shared/media-types.js';
import { applyMetadataPatch, usedInOf } from '../shared/media-types.js';
import { servedFormOf } from '../shared/project-paths.js';
import type { ContentScan } from './content-store.js';
import type { Operation } from './operation.js';


export function addMedia(records: NewMediaRecord[]): Operation<MediaRecord[]> {
  return {
    kind: 'addMedia',
    apply(draft) {
      const ids = new Set<string>();
      const paths = new Set<string>();
      for (const rec of records) {
        if (draft.get(rec.id) || ids.has(rec.id)) {
          throw new StorageError('INVALID_INPUT', `a media file with id ${rec.id} already exists`, { id: rec.id });
        }
        // Compared in served form (shared/project-paths.ts): `uploads/a.png` and `/uploads/a.png` are one
        // URL, and usage matching could not tell which record a page means. A library that already holds
        // both spellings still opens; only new claims are refused.
        for (const path of [rec.path, ...Object.values(rec.sizes).map((s) => s.path)]) {
          const served = servedFormOf(path);
          if (draft.pathTaken(served) || paths.has(served)) {
            throw new StorageError('INVALID_INPUT', `a media file with path ${path} already exists`, { path });
          }
          paths.add(served);
        }
        ids.add(rec.id);
      }
      // No usedIn key: a new record is used nowhere, and the editor writes the key only once usage is set.
      const added = records.map((rec): MediaRecord => ({ ...rec }));
      for (const rec of added) draft.add(rec);
      return added;
    },
  };
}

export function updateMetadata(fileId: string, patch: MetadataPatch): Operation<MediaRecord> {
  return {
    kind: 'updateMetadata',
    apply(draft) {
      const current = draft.get(fileId);
      if (!current) throw new StorageError('MEDIA_NOT_FOUND', `no media file with id ${fileId}`, { fileId });
      const rec = draft.mutable(fileId) as MediaRecord;
      applyMetadataPatch(rec.metadata, current.type, patch);
      return rec;
    },
  };
}

export function deleteMedia(fileIds: string[]): Operation<DeleteMediaResult> {
  return {
    kind: 'deleteMedia',
    // The in-use check happens here, inside the same commit as the removal:
    // no page save can slip in between the check and the delete.
    apply(draft) {
      const result: DeleteMediaResult = { deleted: [], inUse: [], notFound: [] };
      for (const id of new Set(fileIds)) {
        const rec = draft.get(id);
        if (!rec) result.notFound.push(id);
        else if (usedInOf(rec).length > 0) result.inUse.push({ id, filename: rec.filename, usedIn: [...usedInOf(rec)] });
        else {
          draft.remove(id);
          result.deleted.push(rec);
        }
      }
      return result;
    },
  };
}

/**
 * A delete of one file, as every backend answered it: the removed record,
 * or the refusal as a StorageError — MEDIA_IN_USE naming the file and its
 * sources (its in-use check ran inside the delete's commit, and an in-use
 * file is never removed, so nothing changed), or MEDIA_NOT_FOUND.
 */
export function oneDeleted(fileId: string, result: DeleteMediaResult): MediaRecord {
  const deleted = result.deleted.find((rec) => rec.id === fileId);
  if (deleted) return deleted;
  const inUse = result.inUse.find((u) => u.id === fileId);
  if (inUse) {
    throw new StorageError('MEDIA_IN_USE', `${inUse.filename} is in use by ${inUse.usedIn.join(', ')} and was not deleted`, {
      fileId: inUse.id,
      filename: inUse.filename,
      usedIn: inUse.usedIn,
    });
  }
  throw new StorageError('MEDIA_NOT_FOUND', `no media file with id ${fileId}`, { fileId });
}

/** Usage only: the source marks exactly the files these paths name. */
export function setUsage(source: string, mediaPaths: string[]): Operation<SaveContentResult> {
  return {
    kind: 'setUsage',
    apply(draft, content) {
      const fileIds = draft.matchPaths(mediaPaths);
      draft.setSourceUsage(source, fileIds);
      content.overrideUsage(source, fileIds);
      return { source, mediaPaths, fileIds };
    },
  };
}

/**
 * A content save. The batch's first commit marks the union of the source's
 * old and new files; the content file is written after it is durable, and
 * the batch's second commit leaves exactly the new marks — so at no moment
 * does a file on disk reference media that media.json says are unused, and
 * the caller is answered only once the marks are exact.
 */
export function saveContent(source: string, text: string, mediaPaths: string[]): Operation<SaveContentResult> {
  return {
    kind: 'saveContent',
    contentSource: source,
    apply(draft, content) {
      const fileIds = draft.matchPaths(mediaPaths);
      draft.setSourceUsage(source, new Set([...draft.sourceUsage(source), ...fileIds]));
      content.write(source, text, fileIds);
      return { source, mediaPaths, fileIds };
    },
  };
}

/** The content file goes first (durably); the batch's second commit drops its marks. */
export function deleteContent(source: string): Operation<void> {
  return {
    kind: 'deleteContent',
    contentSource: source,
    apply(_draft, content) {
      content.remove(source);
    },
  };
}

/**
 * Rebuild usage from the content files on disk, in this one commit.
 * `all`: every source — one with no content file then uses nothing (the
 * editor's "refresh usage"). `withFiles`: only sources that have a content
 * file, leaving usage set by `setUsage` for file-less sources alone (what a
 * project's open does to trim marks a killed process left behind).
 * `scan`: the content files as read and scanned outside the lock
 * (ContentStore.scanContent); used only if nothing was committed since,
 * else the files are read again here, under the lock (the operation's
 * context: OperationContext, just those two questions).
 */
export function refreshUsage(scope: 'all' | 'withFiles' = 'all', scan?: ContentScan): Operation<RefreshUsageResult> {
  return {
    kind: 'refreshUsage',
    async apply(draft, content, context) {
      const found = scan !== undefined && context.isCurrent(scan) ? scan : await context.scanContent();
      const onDisk = new Map<string, string[]>();
      for (const [source, paths] of found.paths) onDisk.set(source, draft.matchPaths(paths));
      // A save earlier in this batch writes its file only after the first
      // commit: keep its new marks too (the second commit makes them exact).
      for (const [source, fileIds] of content.exactUsage) {
        onDisk.set(source, [...new Set([...(onDisk.get(source) ?? []), ...fileIds])]);
      }
      if (scope === 'all') for (const source of draft.sources()) if (!onDisk.has(source)) draft.setSourceUsage(source, []);
      for (const [source, ids] of onDisk) draft.setSourceUsage(source, ids);
      const inUse = new Set<string>();
      for (const ids of onDisk.values()) for (const id of ids) inUse.add(id);
      return { sources: onDisk.size, filesInUse: inUse.size };
    },
  };
}

/** Writes the document even if unchanged: a new project gets its media.json at once. */
export function initialise(): Operation<void> {
  return {
    kind: 'initialise',
    apply(draft) {
      draft.dirty = true;
    },
  };
}
