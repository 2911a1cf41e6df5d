/**
 * A slow, obvious reading of the rules in storage-worker/usage-extraction.ts,
 * for the fuzz test to compare the fast extractor with: every position of the
 * text is tried, character by character, without the extractor's regex.
 * Quadratic at worst; only ever run on short strings.
 */

const FOLDERS = new Set(['images', 'videos', 'audios', 'files']);
/** Characters that end a name in text (besides whitespace and an encoded `%2F`). */
const NAME_STOPS = new Set([...'"\'`)<>,/?#\\&;]}|']);

/** The media paths in one string: its raw text first, then its unescaped text. */
export function referenceMediaPaths(text: string): string[] {
  const found = new Set<string>();
  scan(text, found);
  const unescaped = referenceUnescape(text);
  if (unescaped !== text) scan(unescaped, found);
  return [...found];
}

/**
 * storage-worker/markup-unescape.ts as one regex replace: `\` + (`u` + 4 hex |
 * any character), or `&` + a numeric reference or a named one, `;` optional.
 */
const ESCAPE_RE =
  /\\(?:u([0-9a-fA-F]{4})|(.))|&(?:#(?:[xX]0*([0-9a-fA-F]{1,6})|0*([0-9]{1,7}))|(sol|period|lowbar|UnderBar|percnt|amp|quot|apos|lt|gt|quest|num|colon|semi|comma|lpar|rpar|excl));?/gs;
const NAMED: Record<string, string> = {
  sol: '/', period: '.', lowbar: '_', UnderBar: '_', percnt: '%', amp: '&', quot: '"', apos: "'", lt: '<', gt: '>',
  quest: '?', num: '#', colon: ':', semi: ';', comma: ',', lpar: '(', rpar: ')', excl: '!',
};

export function referenceUnescape(text: string): string {
  return text.replace(ESCAPE_RE, (_m, unicode?: string, char?: string, hexRef?: string, decRef?: string, named?: string) => {
    if (unicode !== undefined) return String.fromCharCode(parseInt(unicode, 16));
    if (char !== undefined) return 'bfnrt'.includes(char) ? ' ' : char;
    if (named !== undefined) return NAMED[named]!;
    const code = hexRef !== undefined ? parseInt(hexRef, 16) : parseInt(decRef!, 10);
    return code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(code);
  });
}

function scan(t: string, found: Set<string>): void {
  for (let i = 0; i < t.length; i++) {
    if (t.slice(i, i + 7).toLowerCase() !== 'uploads' || !isAsciiWord(t.slice(i, i + 7))) continue;
    if (!atBoundary(t, i)) continue;
    const folderStart = i + 7 + separatorLength(t, i + 7);
    if (folderStart === i + 7) continue;
    const path = folderAndName(t, folderStart);
    if (path === undefined) continue;
    const folder = decodeLevels(t.slice(folderStart, path.folderEnd), path.encoded);
    if (!FOLDERS.has(folder)) continue;
    if (!path.encoded && t[path.nameEnd] === '%') continue; // the name went on through a `%2F`
    for (const name of names(t.slice(path.nameStart, path.nameEnd), path.encoded)) found.add(`/uploads/${folder}/${name}`);
  }
}

function isAsciiWord(s: string): boolean {
  return [...s].every((c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

function atBoundary(t: string, i: number): boolean {
  if (i === 0) return true;
  if (!/[A-Za-z0-9_.-]/.test(t[i - 1]!)) return true;
  return i >= 3 && t.slice(i - 3, i).toLowerCase() === '%2f';
}

/** 1 for `/`, 3 for `%2F` in any case, 0 for anything else. */
function separatorLength(t: string, at: number): number {
  if (t[at] === '/') return 1;
  return t.slice(at, at + 3).toLowerCase() === '%2f' ? 3 : 0;
}

/**
 * The folder is the whole run of letters, digits and `%` (but not a `%2F`)
 * after the separator; it must be 5–30 characters long and be followed by a
 * separator and a non-empty name.
 */
function folderAndName(t: string, start: number): { folderEnd: number; encoded: boolean; nameStart: number; nameEnd: number } | undefined {
  let folderEnd = start;
  while (folderEnd < t.length && /[A-Za-z0-9%]/.test(t[folderEnd]!) && separatorLength(t, folderEnd) === 0) folderEnd++;
  if (folderEnd - start < 5 || folderEnd - start > 30) return undefined;
  const sep = separatorLength(t, folderEnd);
  if (sep === 0) return undefined;
  const nameStart = folderEnd + sep;
  let nameEnd = nameStart;
  while (nameEnd < t.length && isNameChar(t, nameEnd)) nameEnd++;
  return nameEnd > nameStart ? { folderEnd, encoded: sep === 3, nameStart, nameEnd } : undefined;
}

function isNameChar(t: string, k: number): boolean {
  const c = t[k]!;
  if (/\s/.test(c) || NAME_STOPS.has(c)) return false;
  return !(c === '%' && t.slice(k + 1, k + 3).toLowerCase() === '2f');
}

function names(raw: string, encoded: boolean): string[] {
  let text = raw;
  if (encoded && raw.includes('%')) {
    text = decodeOnce(raw);
    const stop = [...text].findIndex((c) => /\s/.test(c) || NAME_STOPS.has(c));
    if (stop >= 0) text = [...text].slice(0, stop).join('');
  }
  let stripped = text;
  while (stripped !== '' && '.!:'.includes(stripped[stripped.length - 1]!)) stripped = stripped.slice(0, -1);
  if (stripped === '') return [];
  const out: string[] = [];
  const plain = decodedName(stripped);
  if (plain !== null) out.push(plain);
  if (stripped.length === text.length - 1 && text.endsWith('.')) {
    const withDot = decodedName(text);
    if (withDot !== null) out.push(withDot);
  }
  return out;
}

function decodedName(raw: string): string | null {
  if (!raw.includes('%')) return raw;
  const name = decodeOnce(raw);
  return name.includes('/') || name.includes('\\') || name === '.' || name === '..' || name === '' ? null : name;
}

function decodeLevels(text: string, encoded: boolean): string {
  const once = decodeOnce(text);
  return encoded && once.includes('%') ? decodeOnce(once) : once;
}

function decodeOnce(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (err) {
    if (err instanceof URIError) return text; // a stray `%` is taken literally
    throw err;
  }
}
