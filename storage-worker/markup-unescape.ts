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
 * The named references decoded: those for a character a served URL can hold
 * (`/` `.` `_` `%`) or that ends one in text. Tried in this order, as prefixes
 * (`&ampx` is `&` + `x`), with the `;` optional as for numeric references.
 */
const NAMED: ReadonlyArray<readonly [string, string]> = [
  ['sol', '/'],
  ['period', '.'],
  ['lowbar', '_'],
  ['UnderBar', '_'],
  ['percnt', '%'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
  ['lt', '<'],
  ['gt', '>'],
  ['quest', '?'],
  ['num', '#'],
  ['colon', ':'],
  ['semi', ';'],
  ['comma', ','],
  ['lpar', '('],
  ['rpar', ')'],
  ['excl', '!'],
];

/** JSON's one-letter escapes for control characters; each ends a path, so a space stands in for them. */
const CONTROL_ESCAPES = 'bfnrt';

const BACKSLASH = 0x5c;
const LETTER_U = 0x75;
const SPACE = 0x20;
const CONTROL_ESCAPE_CODES = new Set([...CONTROL_ESCAPES].map((ch) => ch.charCodeAt(0)));
const AMPERSAND = 0x26;

/** True when `text` holds anything `unescapeMarkup` would change (a cheap test before the pass). */
export function mayHoldEscapes(text: string): boolean {
  return text.includes('\\') || text.includes('&');
}

/** One decoded escape: the text it stands for and where the escape ends. */
interface Decoded {
  text: string;
  end: number;
}

/**
 * `text` with one level of JSON string escapes (`\` + `u` + 4 hex, or `\` +
 * any character) and HTML character references (numeric, leading zeros
 * allowed, `;` optional as browsers accept it; or one of NAMED) undone.
 *
 * A hand-written loop rather than `replace` with a callback: an adversarial
 * text made of references (`&#x2F;uploads&#x2F;…`) made the callback the
 * cost of the whole scan.
 */
export function unescapeMarkup(text: string): string {
  // The output is written as UTF-16 code units into one buffer (it is never
  // longer than the input: every escape is longer than what it stands for),
  // not as a list of slices joined at the end: 2 MB of `\/` escapes made
  // ~660,000 small strings, which cost more than the scan itself.
  let out: Uint16Array | null = null;
  let n = 0;
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== BACKSLASH && c !== AMPERSAND) continue;
    const next = text.charCodeAt(i + 1);
    if (c === BACKSLASH && next === next && next !== LETTER_U) {
      // The common escape (`\/`, `\"`, `\n`): one character, no allocation.
      out ??= new Uint16Array(text.length);
      for (let k = copied; k < i; k++) out[n++] = text.charCodeAt(k);
      out[n++] = CONTROL_ESCAPE_CODES.has(next) ? SPACE : next;
      copied = i + 2;
      i++;
      continue;
    }
    const decoded = c === BACKSLASH ? jsonEscapeAt(text, i) : referenceAt(text, i);
    if (decoded === null) continue;
    out ??= new Uint16Array(text.length);
    for (let k = copied; k < i; k++) out[n++] = text.charCodeAt(k);
    for (let k = 0; k < decoded.text.length; k++) out[n++] = decoded.text.charCodeAt(k);
    copied = decoded.end;
    i = decoded.end - 1;
  }
  if (out === null) return text;
  for (let k = copied; k < text.length; k++) out[n++] = text.charCodeAt(k);
  return fromCodeUnits(out, n);
}

/** The string of the first `length` code units (lone surrogates kept as they are, unlike a UTF-16 TextDecoder). */
function fromCodeUnits(units: Uint16Array, length: number): string {
  const CHUNK = 8192; // well under the engine's limit on arguments
  const chunks: string[] = [];
  // apply takes the typed array as it is; spreading it into arguments was ~7× slower.
  for (let k = 0; k < length; k += CHUNK) chunks.push(String.fromCharCode.apply(null, units.subarray(k, Math.min(k + CHUNK, length)) as unknown as number[]));
  return chunks.join('');
}

function jsonEscapeAt(text: string, at: number): Decoded | null {
  if (at + 1 >= text.length) return null;
  const next = text[at + 1]!;
  if (next === 'u' && isHexRun(text, at + 2, 4)) return { text: String.fromCharCode(parseInt(text.slice(at + 2, at + 6), 16)), end: at + 6 };
  return { text: CONTROL_ESCAPES.includes(next) ? ' ' : next, end: at + 2 };
}

function referenceAt(text: string, at: number): Decoded | null {
  if (text.charCodeAt(at + 1) === 0x23) return numericReferenceAt(text, at);
  for (const [name, char] of NAMED) {
    if (text.startsWith(name, at + 1)) return { text: char, end: withSemicolon(text, at + 1 + name.length) };
  }
  return null;
}

/** `&#` [`x`] zeros, then up to 6 hex or 7 decimal digits (a lone `0` counts), then an optional `;`. */
function numericReferenceAt(text: string, at: number): Decoded | null {
  let k = at + 2;
  const hex = text[k] === 'x' || text[k] === 'X';
  if (hex) k++;
  const zerosStart = k;
  while (text[k] === '0') k++;
  const digitsStart = k;
  const maxDigits = hex ? 6 : 7;
  let code = 0;
  for (let value = digitValue(text.charCodeAt(k), hex); k - digitsStart < maxDigits && value >= 0; value = digitValue(text.charCodeAt(k), hex)) {
    code = code * (hex ? 16 : 10) + value;
    k++;
  }
  if (k === digitsStart && k === zerosStart) return null; // `&#` or `&#x` with no digit
  return { text: fromCodePoint(code), end: withSemicolon(text, k) };
}

function withSemicolon(text: string, at: number): number {
  return text.charCodeAt(at) === 0x3b ? at + 1 : at;
}

function isHexRun(text: string, at: number, length: number): boolean {
  if (at + length > text.length) return false;
  for (let k = at; k < at + length; k++) if (digitValue(text.charCodeAt(k), true) < 0) return false;
  return true;
}

/** The value of a decimal (or hex) digit's char code, -1 for anything else (NaN past the end included). */
function digitValue(c: number, hex: boolean): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (!hex) return -1;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** What a browser makes of an out-of-range reference: U+FFFD, never a throw. */
function fromCodePoint(code: number): string {
  return code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(code);
}
