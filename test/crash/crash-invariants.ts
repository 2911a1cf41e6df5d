/**
 * The invariants every crash state must keep, checked on the bytes of a disk
 * image (before and after recovery). "Versions" of a file are the contents
 * it had, with no crash, at some moment of the recorded window (absent is a
 * content too); `from..to` are the log points between the last
 * acknowledgment before the crash and the crash itself.
 *
 *  - media.json and every content file hold a version from `from..to`: the old
 *    or the new one, never a torn or empty file, never one older than what was
 *    acknowledged (nothing acknowledged is lost);
 *  - media.json parses (unless it is the very bytes the window started from:
 *    the recovery scenario starts from a corrupt file), and so does `.bak`;
 *  - a lock file, when there is one, holds a whole stamp: an unreadable lock
 *    cannot be judged dead, so the next start waits for it to grow stale;
 *  - never under-marked: every media path a content file on disk uses is
 *    marked with that file's source in media.json, and no media record a
 *    content file uses is gone.
 */
import { parseStamp } from '../../storage-worker/lock-stamp.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { sourceOfGlobalFile, sourceOfPageFile } from '../../storage-worker/content-files.js';
import { extractMediaPaths, MediaPathIndex } from '../../storage-worker/usage-extraction.js';
import type { MediaDocument } from '../../shared/media-types.js';
import { contentOf, hashBytes, type DiskImage } from './disk-image.js';

export const MEDIA_PATH = 'uploads/media.json' as const;
export const BACKUP_PATH = 'uploads/media.json.bak' as const;
export const LOCK_PATH = 'uploads/media.json.lock' as const;

/** The usage source a content file belongs to, or null when the path is not a content file. */
export function sourceOfContentPath(path: string): string | null {
  if (path === 'theme.json') return 'global:theme-settings';
  const global = /^pages\/global\/([^/]+)$/.exec(path);
  if (global) return sourceOfGlobalFile(global[1]!);
  const page = /^pages\/([^/]+)$/.exec(path);
  return page ? sourceOfPageFile(page[1]!) : null;
}

/** The no-crash images at every log point, and what the checks need from them (computed once). */
export class History {
  /** every media.json or content path any point of the window knew */
  readonly trackedPaths: readonly string[];
  /** every media path any version of media.json knew: a content file using one must find its record */
  readonly knownMedia: MediaPathIndex;
  /** path → content hash at each point */
  private readonly hashes = new Map<string, string[]>();
  /** path → parsed media document at each point (null: absent or does not parse) */
  private readonly docs = new Map<string, Array<MediaDocument | null>>();

  constructor(
    readonly initial: DiskImage,
    readonly logical: readonly DiskImage[],
  ) {
    const paths = new Set<string>();
    for (const image of [initial, ...logical]) {
      for (const path of image.files.keys()) if (path === MEDIA_PATH || sourceOfContentPath(path) !== null) paths.add(path);
    }
    this.trackedPaths = [...paths].sort();
    for (const path of [...this.trackedPaths, BACKUP_PATH]) {
      this.hashes.set(path, logical.map((image) => hashBytes(contentOf(image, path))));
    }
    for (const path of [MEDIA_PATH, BACKUP_PATH]) this.docs.set(path, logical.map((image) => tryParse(contentOf(image, path))));
    this.knownMedia = new MediaPathIndex(tryParse(contentOf(initial, MEDIA_PATH)) ?? { files: [] });
    for (const doc of this.docs.get(MEDIA_PATH)!) for (const r of doc?.files ?? []) this.knownMedia.add(r);
  }

  /** The content hashes `path` had at points from..to. */
  versions(path: string, from: number, to: number): Set<string> {
    return new Set(this.hashes.get(path)!.slice(from, to + 1));
  }

  /** The media documents that parse among the versions of media.json or .bak at from..to. */
  documents(path: typeof MEDIA_PATH | typeof BACKUP_PATH, from: number, to: number): MediaDocument[] {
    return this.docs.get(path)!.slice(from, to + 1).filter((d): d is MediaDocument => d !== null);
  }
}

export function tryParse(bytes: Uint8Array | null): MediaDocument | null {
  if (bytes === null) return null;
  try {
    return parseMediaDocument(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}

function describe(bytes: Uint8Array | null): string {
  if (bytes === null) return 'absent';
  if (bytes.byteLength === 0) return 'empty';
  return `${bytes.byteLength} bytes${tryJson(bytes) === undefined ? ', not JSON' : ''}`;
}

function tryJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Violations of the on-disk invariants in one image. */
export function checkBytes(image: DiskImage, history: History, from: number, to: number): string[] {
  const problems: string[] = [];
  for (const path of history.trackedPaths) {
    const bytes = contentOf(image, path);
    if (!history.versions(path, from, to).has(hashBytes(bytes))) {
      problems.push(`${path} is ${describe(bytes)}: none of its versions between the last acknowledgment and the crash`);
    }
  }
  const initialMedia = contentOf(history.initial, MEDIA_PATH);
  const media = contentOf(image, MEDIA_PATH);
  if (media !== null && hashBytes(media) !== hashBytes(initialMedia) && tryParse(media) === null) {
    problems.push(`media.json does not parse (${describe(media)})`);
  }
  const backup = contentOf(image, BACKUP_PATH);
  if (backup !== null && hashBytes(backup) !== hashBytes(contentOf(history.initial, BACKUP_PATH)) && tryParse(backup) === null) {
    problems.push(`media.json.bak does not parse (${describe(backup)})`);
  }
  const lock = contentOf(image, LOCK_PATH);
  if (lock !== null && parseStamp(Buffer.from(lock)) === null) {
    problems.push(`media.json.lock holds no stamp (${describe(lock)}): a restart before it is stale cannot take it`);
  }
  problems.push(...checkMarks(image, history));
  return problems;
}

/** Never under-marked: each content file's media are marked with its source, and none of them is gone. */
export function checkMarks(image: DiskImage, history: History): string[] {
  const doc = tryParse(contentOf(image, MEDIA_PATH));
  if (!doc) return []; // nothing to compare with (a torn file is reported above; the corrupt start is recovery's)
  const index = new MediaPathIndex(doc);
  const byId = new Map(doc.files.map((r) => [r.id, r]));
  const known = history.knownMedia;
  const problems: string[] = [];
  for (const path of image.files.keys()) {
    const source = sourceOfContentPath(path);
    if (source === null) continue;
    const bytes = contentOf(image, path);
    const content = bytes === null ? undefined : tryJson(bytes);
    if (content === undefined) continue; // not a version the window wrote: reported by checkBytes
    for (const mediaPath of extractMediaPaths(content)) {
      const ids = index.match([mediaPath]);
      if (ids.length === 0 && known.match([mediaPath]).length > 0) {
        problems.push(`${path} uses ${mediaPath}, whose record is gone from media.json`);
      }
      for (const id of ids) {
        if (!(byId.get(id)!.usedIn ?? []).includes(source)) problems.push(`under-marked: ${path} uses ${mediaPath} but ${id}.usedIn lacks ${source}`);
      }
    }
  }
  return problems;
}

/** A document's records without their marks, for comparing what recovery may change (marks) and not (records). */
export function recordsWithoutMarks(doc: MediaDocument): string {
  return JSON.stringify(
    doc.files
      .map(({ usedIn: _usedIn, ...rest }) => rest)
      .sort((a, b) => a.id.localeCompare(b.id)),
  );
}
