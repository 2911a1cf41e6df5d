/**
 * The text a browser would see once the escapes that content carries are
 * undone: JSON string escapes (`\/`, `\u002F` — HTML kept as an escaped JSON
 * string) and HTML character references (`&#x2F;`, `&#47;`, `&sol;` — an
 * attribute value the browser decodes before it requests the URL).
 *
 * Usage extraction scans this view as well as the raw text, so a media path
 * spelled with escapes is counted as the file the browser will fetch. One
 * pass, linear in the length of the text, one level of escaping.
 */

/**
 * `\` + (`u` + 4 hex | any character), or `&` + a numeric reference (leading
 * zeros allowed, `;` optional as browsers accept it) or one of the named
 * references that stand for a character a served URL can contain or that ends
 * one. The `s` flag lets `\` escape a line break too.
 */
const ESCAPE_RE =
  /\\(?:u([0-9a-fA-F]{4})|(.))|&(?:#(?:[xX]0*([0-9a-fA-F]{1,6})|0*([0-9]{1,7}))|(sol|period|lowbar|UnderBar|percnt|amp|quot|apos|lt|gt|quest|num|colon|semi|comma|lpar|rpar|excl));?/gs;

const NAMED: Readonly<Record<string, string>> = {
  sol: '/',
  period: '.',
  lowbar: '_',
  UnderBar: '_',
  percnt: '%',
  amp: '&',
  quot: '"',
  apos: "'",
  lt: '<',
  gt: '>',
  quest: '?',
  num: '#',
  colon: ':',
  semi: ';',
  comma: ',',
  lpar: '(',
  rpar: ')',
  excl: '!',
};

/** JSON's one-letter escapes for control characters; each ends a path, so a space stands in for them. */
const CONTROL_ESCAPES = 'bfnrt';

/** True when `text` holds anything `unescapeMarkup` would change (a cheap test before the pass). */
export function mayHoldEscapes(text: string): boolean {
  return text.includes('\\') || text.includes('&');
}

/** `text` with one level of JSON string escapes and HTML character references undone. */
export function unescapeMarkup(text: string): string {
  ESCAPE_RE.lastIndex = 0;
  return text.replace(ESCAPE_RE, decodeEscape);
}

function decodeEscape(
  _match: string,
  jsonUnicode: string | undefined,
  jsonChar: string | undefined,
  hexRef: string | undefined,
  decimalRef: string | undefined,
  named: string | undefined,
): string {
  if (jsonUnicode !== undefined) return String.fromCharCode(parseInt(jsonUnicode, 16));
  if (jsonChar !== undefined) return CONTROL_ESCAPES.includes(jsonChar) ? ' ' : jsonChar;
  if (hexRef !== undefined) return fromCodePoint(parseInt(hexRef, 16));
  if (decimalRef !== undefined) return fromCodePoint(parseInt(decimalRef, 10));
  return NAMED[named!]!;
}

/** What a browser makes of an out-of-range reference: U+FFFD, never a throw. */
function fromCodePoint(code: number): string {
  return code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(code);
}
