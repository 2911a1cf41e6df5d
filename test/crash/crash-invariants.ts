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
 *  - never under-marked: every media path a content file on disk uses is
 *    marked with that file's source in media.json, and no media record a
 *    content file uses is gone.
 */
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { sourceOfGlobalFile, sourceOfPageFile } from '../../storage-worker/content-files.js';
import { extractMediaPaths, MediaPathIndex } from '../../storage-worker/usage-extraction.js';
import type { MediaDocument } from '../../shared/media-types.js';
import { contentOf, hashBytes, type DiskImage } from './disk-image.js';

export const MEDIA_PATH = 'uploads/media.json';
export const BACKUP_PATH = 'uploads/media.json.bak';

/** The usage source a content file belongs to, or null when the path is not a content file. */
export function sourceOfContentPath(path: string): string | null {
  if (path === 'theme.json') return 'global:theme-settings';
  const global = /^pages\/global\/([^/]+)$/.exec(path);
  if (global) return sourceOfGlobalFile(global[1]!);
  const page = /^pages\/([^/]+)$/.exec(path);
  return page ? sourceOfPageFile(page[1]!) : null;
}

/** The no-crash images at every log point, and what the checks need from them. */
export class History {
  constructor(
    readonly initial: DiskImage,
    readonly logical: readonly DiskImage[],
  ) {}

  /** The content hashes `path` had at points from..to. */
  versions(path: string, from: number, to: number): Set<string> {
    const out = new Set<string>();
    for (let j = from; j <= to; j++) out.add(hashBytes(contentOf(this.logical[j]!, path)));
    return out;
  }

  /** Media documents that parse among the versions of `path` at from..to. */
  documents(path: string, from: number, to: number): MediaDocument[] {
    const out: MediaDocument[] = [];
    for (let j = from; j <= to; j++) {
      const doc = tryParse(contentOf(this.logical[j]!, path));
      if (doc) out.push(doc);
    }
    return out;
  }

  /** Every media.json, .bak or content path any point of the window knew. */
  trackedPaths(): string[] {
    const paths = new Set<string>();
    for (const image of [this.initial, ...this.logical]) {
      for (const path of image.files.keys()) if (path === MEDIA_PATH || sourceOfContentPath(path) !== null) paths.add(path);
    }
    return [...paths].sort();
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
  for (const path of history.trackedPaths()) {
    const bytes = contentOf(image, path);
    if (!history.versions(path, from, to).has(hashBytes(bytes))) {
      problems.push(`${path} is ${describe(bytes)}: none of its versions between the last acknowledgment (point ${from}) and the crash`);
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
  problems.push(...checkMarks(image, history));
  return problems;
}

/** Never under-marked: each content file's media are marked with its source, and none of them is gone. */
export function checkMarks(image: DiskImage, history: History): string[] {
  const doc = tryParse(contentOf(image, MEDIA_PATH));
  if (!doc) return []; // nothing to compare with (a torn file is reported above; the corrupt start is recovery's)
  const index = new MediaPathIndex(doc);
  const byId = new Map(doc.files.map((r) => [r.id, r]));
  const known = new MediaPathIndex(tryParse(contentOf(history.initial, MEDIA_PATH)) ?? { files: [] });
  for (const image of history.logical) {
    for (const r of tryParse(contentOf(image, MEDIA_PATH))?.files ?? []) known.add(r);
  }
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
        if (!byId.get(id)!.usedIn.includes(source)) problems.push(`under-marked: ${path} uses ${mediaPath} but ${id}.usedIn lacks ${source}`);
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
