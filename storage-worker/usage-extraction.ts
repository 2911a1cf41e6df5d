/**
 * Usage extraction: which media files does a piece of saved content use?
 *
 * `extractMediaPaths` finds every media path (`/uploads/<folder>/<name>`) inside
 * any string of the content, at any depth; `MediaPathIndex` maps those paths to
 * media record ids (a record's own path and the paths of its size variants).
 *
 * The invariant this module serves: usage may be over-marked but never
 * under-marked, because a file that is not marked as used can be deleted while
 * a page still shows it. So the scanner errs towards finding too much (a path
 * that matches no file costs nothing: the index ignores it) and never skips a
 * string because of where it sits (HTML, CSS, srcset, a link object, a URL).
 *
 * Pure and synchronous: no I/O, no logging. It runs inside the storage worker
 * on every content save, so it is one precompiled regex per string, no string
 * concatenation of the content, and an explicit stack instead of recursion.
 */
import type { MediaDocument, MediaRecord } from '../shared/media-types.js';

/** The fields of a record the index reads. */
export type IndexedRecord = Pick<MediaRecord, 'id' | 'path' | 'sizes'>;

/**
 * `uploads` + separator + folder + separator + name.
 *
 * - The separator is `/` or its encoded form `%2F`: a path carried inside a
 *   query string (`/_next/image?url=%2Fuploads%2Fimages%2Fa.jpg&w=640`) is
 *   still a use of the file.
 * - What comes before `uploads` (nothing, `/`, `http://host/`,
 *   `/api/media/projects/<id>/`) is checked in code, not here: a regex
 *   starting with a literal lets V8 skip ahead to candidate positions fast.
 * - The name stops at whitespace, quotes, `)` (CSS `url(...)`), `<` `>` (HTML),
 *   `,` (srcset), `/`, `?` and `#` (query, fragment), and a few characters a
 *   stored name (slug + extension) never holds but that end a path in text:
 *   `\` (escaped JSON), `&` `;` (HTML entities such as `&quot;` in style
 *   attributes, `&w=` in query strings), `]` `}` `|`.
 *
 * Module-level and `g`: `lastIndex` is reset before each string, and the scan
 * is synchronous, so calls cannot interleave on it.
 */
const MEDIA_PATH_RE = /uploads(?:\/|%2[Ff])(images|videos|audios|files)(\/|%2[Ff])([^\s"'`)<>,/?#\\&;\]}|]+)/g;

/** Cheap pre-check before running the regex on a string. */
const MARKER = 'uploads';

/**
 * Every media path found anywhere inside any string of `content` (values only,
 * never object keys), normalised to `/uploads/<folder>/<name>`, deduplicated,
 * in order of first appearance (document order: depth-first, pre-order).
 * Cycles and shared sub-objects are visited once; depth is not limited by the
 * call stack.
 */
export function extractMediaPaths(content: unknown): string[] {
  const found = new Set<string>();
  if (typeof content === 'string') {
    scanString(content, found);
    return [...found];
  }
  if (typeof content !== 'object' || content === null) return [];

  // An explicit stack instead of recursion: content can be nested deeper than
  // the call stack allows. Children are pushed last-first so they pop
  // first-last, which keeps document order. `seen` stops cycles (and reads a
  // shared sub-object once; its paths would be deduplicated anyway).
  const seen = new Set<object>([content]);
  const stack: unknown[] = [];
  pushChildren(content, stack);
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      scanString(value, found);
    } else if (typeof value === 'object' && value !== null && !seen.has(value)) {
      seen.add(value);
      pushChildren(value, stack);
    }
  }
  return [...found];
}

/** Values only: object keys are names, not content. */
function pushChildren(container: object, stack: unknown[]): void {
  const values: unknown[] = Array.isArray(container) ? container : Object.values(container);
  for (let i = values.length - 1; i >= 0; i--) stack.push(values[i]);
}

function scanString(text: string, found: Set<string>): void {
  if (!text.includes(MARKER)) return; // most strings hold no path: skip the regex setup
  MEDIA_PATH_RE.lastIndex = 0;
  for (let m = MEDIA_PATH_RE.exec(text); m !== null; m = MEDIA_PATH_RE.exec(text)) {
    if (!startsAtBoundary(text, m.index)) {
      // `media-uploads/images/x` is not a media path; look again right after
      // the rejected `u` so nothing inside the rejected match is skipped.
      MEDIA_PATH_RE.lastIndex = m.index + 1;
      continue;
    }
    const name = normaliseName(m[3]!, m[2] !== '/');
    if (name !== null) found.add(`/uploads/${m[1]!}/${name}`);
  }
}

/**
 * `uploads` must begin a path segment: start of string, after `/` (`/uploads`,
 * `http://host/uploads`, `/api/media/projects/p/uploads`), after its encoded
 * form `%2F`, or after any character that cannot be part of a directory name
 * in text (quote, space, `(`, `=`, …). It must not be the tail of a longer
 * word (`media-uploads`, `myuploads`, `x.uploads`).
 */
function startsAtBoundary(text: string, index: number): boolean {
  if (index === 0) return true;
  const c = text.charCodeAt(index - 1);
  const wordChar =
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2d || // -
    c === 0x2e; // .
  if (!wordChar) return true;
  // `%2F` / `%2f` ends in a word character but is an encoded `/`.
  return (c === 0x46 || c === 0x66) && index >= 3 && text.charCodeAt(index - 2) === 0x32 && text.charCodeAt(index - 3) === 0x25;
}

/**
 * The stored name from the raw text after `/<folder>/`, or null when what
 * remains is not a file name. Percent-escapes are decoded once, or twice when
 * the separators themselves were encoded (`%2F`): the whole path was then
 * encoded one level deeper, so `my%2520photo.jpg` there is `my photo.jpg`.
 */
function normaliseName(raw: string, encodedSeparator: boolean): string | null {
  let name = raw;
  let end = name.length;
  while (end > 0 && isTrailingPunctuation(name.charCodeAt(end - 1))) end--;
  if (end === 0) return null; // `/uploads/images/.` or `…/images/..`
  if (end < name.length) name = name.slice(0, end);
  if (name.includes('%')) {
    name = decodeOnce(name);
    if (encodedSeparator && name.includes('%')) name = decodeOnce(name);
    // An escaped `/` would make it a path into a subdirectory, which the
    // storage never creates, and `..` would leave the folder.
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.' || name === '') return null;
  }
  return name;
}

/** Sentence punctuation after a path in prose (`… see /uploads/images/a.jpg.`): `.` `!` `:` */
function isTrailingPunctuation(c: number): boolean {
  return c === 0x2e || c === 0x21 || c === 0x3a;
}

function decodeOnce(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch (err) {
    // URIError: a `%` that does not start a valid escape (`100%-done.png`,
    // a truncated `%E0%A4`). The text is then taken literally, as written.
    if (err instanceof URIError) return name;
    throw err;
  }
}

/**
 * Maps media paths to record ids: every record's `path` and the `path` of each
 * of its `sizes` variants. Maintained incrementally (`add`, `remove`) as the
 * store commits record changes, so a content save never rebuilds it.
 *
 * A path claimed by two records (never true of a valid document, but the index
 * must not hide it) maps to both, so a use of it marks both: over-marking is
 * safe, under-marking is not.
 */
export class MediaPathIndex {
  /** path → ids of the records that own it (almost always exactly one) */
  private readonly idsByPath = new Map<string, string[]>();
  /** id → the paths indexed for it, so `remove` does not depend on the record passed in being unchanged */
  private readonly pathsById = new Map<string, string[]>();

  constructor(document?: MediaDocument) {
    if (document) for (const record of document.files) this.add(record);
  }

  /** Number of indexed records. */
  get size(): number {
    return this.pathsById.size;
  }

  /** Index a record's paths; a record already indexed under the same id is replaced. */
  add(record: IndexedRecord): void {
    if (this.pathsById.has(record.id)) this.removeId(record.id);
    const paths = new Set<string>([withLeadingSlash(record.path)]);
    for (const variant of Object.values(record.sizes)) paths.add(withLeadingSlash(variant.path));
    const list = [...paths];
    this.pathsById.set(record.id, list);
    for (const path of list) {
      const ids = this.idsByPath.get(path);
      if (ids === undefined) this.idsByPath.set(path, [record.id]);
      else ids.push(record.id);
    }
  }

  /** Forget a record (by its id); unknown records are ignored. */
  remove(record: Pick<MediaRecord, 'id'>): void {
    this.removeId(record.id);
  }

  /** Ids of the records those paths belong to: unique, in order of the paths; unmatched paths are ignored. */
  match(paths: readonly string[]): string[] {
    const ids = new Set<string>();
    for (const path of paths) {
      const owners = this.idsByPath.get(path);
      if (owners !== undefined) for (const id of owners) ids.add(id);
    }
    return [...ids];
  }

  private removeId(id: string): void {
    const paths = this.pathsById.get(id);
    if (paths === undefined) return;
    this.pathsById.delete(id);
    for (const path of paths) {
      const ids = this.idsByPath.get(path);
      if (ids === undefined) continue;
      const remaining = ids.filter((owner) => owner !== id);
      if (remaining.length === 0) this.idsByPath.delete(path);
      else this.idsByPath.set(path, remaining);
    }
  }
}

/** Records are stored with `/uploads/…`; a legacy record without the slash must still match. */
function withLeadingSlash(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}
