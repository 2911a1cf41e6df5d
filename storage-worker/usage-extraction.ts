/**
 * Usage extraction: which media files does a piece of saved content use?
 *
 * `extractMediaPaths` finds every media path (`/uploads/<folder>/<name>`) inside
 * any string or key of the content, at any depth, in every spelling the server
 * serves (any case of `uploads`, percent-encoded folder and name, JSON-escaped
 * or HTML-escaped slashes); `MediaPathIndex` maps those paths to
 * media record ids (a record's own path and the paths of its size variants).
 *
 * The invariant this module serves: usage may be over-marked but never
 * under-marked, because a file that is not marked as used can be deleted while
 * a page still shows it. So the scanner errs towards finding too much (a path
 * that matches no file costs nothing: the index ignores it) and never skips a
 * string because of where it sits (HTML, CSS, srcset, a link object, a URL).
 *
 * Pure and synchronous: no I/O, no logging. It runs inside the storage worker
 * on every content save (and used to hold the project lock while it did), so
 * it is linear in the size of the content: one precompiled regex per string
 * (two when the string holds escapes), no string concatenation of the content,
 * and an explicit stack instead of recursion.
 */
import type { MediaDocument, MediaRecord } from '../shared/media-types.js';
import { isMediaFolder, servedPathOf, servedPathsOf } from '../shared/project-paths.js';
import { mayHoldEscapes, unescapeMarkup } from './markup-unescape.js';

/** The fields of a record the index reads. */
export type IndexedRecord = Pick<MediaRecord, 'id' | 'path' | 'sizes'>;

/**
 * `uploads` + separator + folder + separator + name, case-insensitive.
 *
 * - `uploads` in any case: the router matches its literal segments
 *   case-insensitively, so `/UPLOADS/images/a.png` is served. The folder is
 *   then checked in code, exactly (the route serves `images`, not `IMAGES`),
 *   after percent-decoding (the router decodes params: `%69mages` is served;
 *   30 characters hold a folder whose every letter is encoded twice, as in a
 *   `%2F`-encoded path). Like a name, a folder never runs through a `%2F`,
 *   so each candidate has one parse.
 * - The separator is `/` or its encoded form `%2F`: a path carried inside a
 *   query string (`/_next/image?url=%2Fuploads%2Fimages%2Fa.jpg&w=640`) is
 *   still a use of the file. Escaped slashes (`\/`, `&#x2F;`) are found in
 *   the unescaped view of the text (markup-unescape.ts), not here.
 * - What comes before `uploads` (nothing, `/`, `http://host/`,
 *   `/api/media/projects/<id>/`) is checked in code, not here.
 * - The name stops at whitespace, quotes, `)` (CSS `url(...)`), `<` `>` (HTML),
 *   `,` (srcset), `/` and `%2F`, `?` and `#` (query, fragment), and a few
 *   characters a stored name (slug + extension) never holds but that end a
 *   path in text: `\` (escaped JSON), `&` `;` (HTML entities such as `&quot;`
 *   in style attributes, `&w=` in query strings), `]` `}` `|`.
 *
 * Linear time: neither a folder (≤ 30 characters) nor a name can run through
 * a separator, `%2F` included — without that, `xuploads%2Fimages%2F…` made
 * every rejected match run to the end of the text and the scan quadratic. So
 * a later match can only start inside the folder or at the tail of the name
 * of an earlier one, and each character is read by a bounded number of
 * matches.
 *
 * Module-level and `g`: `lastIndex` is reset before each string, and the scan
 * is synchronous, so calls cannot interleave on it.
 */
const MEDIA_PATH_RE = /uploads(?:\/|%2F)((?:[a-z0-9]|%(?!2F)){5,30})(\/|%2F)((?:[^\s"'`)<>,/?#\\&;\]}|%]|%(?!2F))+)/gi;

/** Cheap pre-check before running the regex on a string. */
const MARKER_RE = /uploads/i;

/**
 * Every media path found anywhere inside any string of `content` (values and
 * object keys), normalised to `/uploads/<folder>/<name>`, deduplicated, in
 * order of first appearance (document order: depth-first, pre-order, a key
 * before its value; within one string, paths found only in its unescaped
 * spelling come after the others). Cycles and shared sub-objects are visited
 * once; depth is not limited by the call stack.
 */
export function extractMediaPaths(content: unknown): string[] {
  const found = new Set<string>();
  if (typeof content === 'string') {
    scanText(content, found);
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
      scanText(value, found);
    } else if (typeof value === 'object' && value !== null && !seen.has(value)) {
      seen.add(value);
      pushChildren(value, stack);
    }
  }
  return [...found];
}

/**
 * Keys and values: a key is usually a name, but content that maps a path to
 * something (`{ "/uploads/images/a.png": { alt: … } }`) uses the file just
 * as much, and over-marking is safe where under-marking is not.
 */
function pushChildren(container: object, stack: unknown[]): void {
  if (Array.isArray(container)) {
    for (let i = container.length - 1; i >= 0; i--) stack.push(container[i]);
    return;
  }
  const entries = Object.entries(container);
  for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]![1], entries[i]![0]);
}

/** The raw text, and the text with its JSON escapes and HTML references undone (what a browser requests). */
function scanText(text: string, found: Set<string>): void {
  scanString(text, found);
  if (mayHoldEscapes(text)) {
    const unescaped = unescapeMarkup(text);
    if (unescaped !== text) scanString(unescaped, found);
  }
}

/**
 * Every match is looked at, and the search always resumes right after the
 * matched `u`, so no path hides inside another match: a rejected look-alike
 * (`xuploads/images/uploads/images/a.jpg`) or an accepted path whose name is
 * itself `uploads` (`/uploads/images/uploads/images/a.jpg`). Still linear
 * (see MEDIA_PATH_RE).
 */
function scanString(text: string, found: Set<string>): void {
  if (!MARKER_RE.test(text)) return; // most strings hold no path: skip the regex setup
  MEDIA_PATH_RE.lastIndex = 0;
  // The same spelling as the previous accepted path adds nothing: content
  // repeats paths (srcset, a logo in every card), and building and hashing
  // the normalised path again was most of the cost of a path-dense text.
  let previous = '';
  for (let m = MEDIA_PATH_RE.exec(text); m !== null; m = MEDIA_PATH_RE.exec(text)) {
    const end = MEDIA_PATH_RE.lastIndex;
    MEDIA_PATH_RE.lastIndex = m.index + 1;
    // `media-uploads/images/x` and `/uploads/IMAGES/x` are not media paths.
    if (!startsAtBoundary(text, m.index)) continue;
    const encodedSeparator = m[2] !== '/';
    const folder = decodeLevels(m[1]!, encodedSeparator);
    if (!isMediaFolder(folder)) continue;
    // A name that ends at an encoded `%2F` while the path's own separators
    // are plain `/` is really `a%2Fb.jpg`: a name holding a `/`, which no
    // stored file has (the router decodes it and refuses it).
    if (!encodedSeparator && text.charCodeAt(end) === 0x25) continue;
    if (m[0] === previous) continue;
    previous = m[0];
    for (const name of normaliseName(m[3]!, encodedSeparator)) found.add(servedPathOf(folder, name));
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
 * The stored names the raw text after `/<folder>/` can stand for: none when it
 * is not a file name, usually one. Percent-escapes are decoded once (as the
 * router decodes its params), or twice when the separators themselves were
 * encoded (`%2F`): the whole path was then encoded one level deeper, so
 * `my%2520photo.jpg` there is `my photo.jpg`, and `a.jpg%3Fv%3D2` is `a.jpg`
 * with a query string.
 *
 * Sentence punctuation after a path in prose (`… see /uploads/images/a.jpg.`)
 * is not part of the name, but a name may end in one `.` (the router serves
 * `x.`), so then both spellings count: over-marking is safe.
 */
function normaliseName(raw: string, encodedSeparator: boolean): string[] {
  const text = encodedSeparator && raw.includes('%') ? cutAtNameEnd(decodeOnce(raw)) : raw;
  let end = text.length;
  while (end > 0 && isTrailingPunctuation(text.charCodeAt(end - 1))) end--;
  if (end === 0) return []; // `/uploads/images/.` or `…/images/..`
  const names: string[] = [];
  const stripped = decodedName(text.slice(0, end));
  if (stripped !== null) names.push(stripped);
  if (end === text.length - 1 && text.charCodeAt(end) === 0x2e) {
    const withDot = decodedName(text);
    if (withDot !== null) names.push(withDot);
  }
  return names;
}

/** What ends a name in text (the name class of MEDIA_PATH_RE, negated), for a name that was encoded one level deeper. */
const NAME_END_RE = /[\s"'`)<>,/?#\\&;\]}|]/;

function cutAtNameEnd(text: string): string {
  const end = text.search(NAME_END_RE);
  return end < 0 ? text : text.slice(0, end);
}

function decodedName(raw: string): string | null {
  if (!raw.includes('%')) return raw;
  const name = decodeOnce(raw);
  // An escaped `/` would make it a path into a subdirectory, which the
  // storage never creates, and `..` would leave the folder.
  if (name.includes('/') || name.includes('\\') || name === '..' || name === '.' || name === '') return null;
  return name;
}

/** Sentence punctuation after a path in prose: `.` `!` `:` */
function isTrailingPunctuation(c: number): boolean {
  return c === 0x2e || c === 0x21 || c === 0x3a;
}

/** Percent-decoded once, or twice when the path's separators were encoded too. */
function decodeLevels(text: string, encodedSeparator: boolean): string {
  if (!text.includes('%')) return text;
  const once = decodeOnce(text);
  return encodedSeparator && once.includes('%') ? decodeOnce(once) : once;
}

/**
 * Percent-escapes that decodeURIComponent accepts: each `%` starts a
 * well-formed UTF-8 sequence (Unicode table 3-7: no overlong forms, no
 * surrogates, nothing past U+10FFFF). Tested first because a throw costs
 * microseconds, and text like `uploads/images/%…` repeated would throw once
 * per candidate.
 */
const WELL_FORMED_ESCAPES_RE =
  /^(?:[^%]|%[0-7][0-9a-f]|%c[2-9a-f]%[89ab][0-9a-f]|%d[0-9a-f]%[89ab][0-9a-f]|%e0%[ab][0-9a-f]%[89ab][0-9a-f]|%e[1-9a-cef](?:%[89ab][0-9a-f]){2}|%ed%[89][0-9a-f]%[89ab][0-9a-f]|%f0%[9ab][0-9a-f](?:%[89ab][0-9a-f]){2}|%f[1-3](?:%[89ab][0-9a-f]){3}|%f4%8[0-9a-f](?:%[89ab][0-9a-f]){2})*$/i;

function decodeOnce(name: string): string {
  // A `%` that does not start a valid escape (`100%-done.png`, a truncated
  // `%E0%A4`): the text is then taken literally, as written.
  if (!WELL_FORMED_ESCAPES_RE.test(name)) return name;
  try {
    return decodeURIComponent(name);
  } catch (err) {
    // Not expected after the check above; should the table miss a case, the
    // literal text is still the answer (the fuzz test compares the two).
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
    const list = servedPathsOf(record);
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

