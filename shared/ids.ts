/**
 * The id rules of the contract, checked at both edges: the server checks
 * what a URL or body carries (400 INVALID_ID), the worker checks every call
 * (INVALID_INPUT) and every id it reads from disk. Ids become path segments
 * (`pages/<pageId>.json`, `projects/<projectId>/`), so what these allow is
 * exactly what can never leave its folder.
 */

/** The longest id: project ids, page ids, media file ids, global widget types. */
export const MAX_ID_LENGTH = 64;

/** Project ids, page ids, media file ids, global widget types: letters, digits, `-`, `_`, 1–64 chars. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A stored file name inside one upload folder. Stored names are slugs with
 * an extension, but libraries created by earlier versions of the editor may
 * hold other plain names, so this accepts letters, digits, `.`, `_`, `-` —
 * and never `/`, `\`, NUL, a leading dot or `..`, so a name can never leave
 * its folder.
 */
export const FILENAME_PATTERN = /^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
