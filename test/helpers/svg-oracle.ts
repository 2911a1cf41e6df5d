/**
 * An independent, deliberately simple judge of SVG text for the guard's fuzz
 * tests: it shares no code with svg-inspect.ts (no XML parser, its own tag
 * scanner and reference decoder) and lists what active content it sees.
 * Comments and CDATA sections are removed first (they are text, not markup).
 */

const FORBIDDEN = new Set(['script', 'foreignobject', 'iframe', 'embed', 'object', 'handler', 'listener']);

export function activeContentIn(svg: string): string[] {
  const problems: string[] = [];
  const text = svg.replace(/^\uFEFF/, '');
  if (/<!doctype/i.test(text)) problems.push('doctype');
  if (/<!entity/i.test(text)) problems.push('entity declaration');
  for (let i = text.indexOf('<?'); i >= 0; i = text.indexOf('<?', i + 2)) {
    const isDeclaration = text.slice(0, i).trim() === '' && /^<\?xml[ \t\r\n]/.test(text.slice(i, i + 6));
    if (!isDeclaration) problems.push('processing instruction');
  }
  const markup = text.replace(/<!--[^]*?-->/g, '').replace(/<!\[CDATA\[[^]*?\]\]>/g, '');
  for (const tag of tags(markup)) {
    const local = tag.name.slice(tag.name.indexOf(':') + 1).toLowerCase();
    if (FORBIDDEN.has(local)) problems.push(`element ${tag.name}`);
    for (const [name, value] of tag.attributes) {
      const attrLocal = name.slice(name.indexOf(':') + 1).toLowerCase();
      if (attrLocal.startsWith('on')) problems.push(`handler ${name}`);
      const decoded = decode(value);
      const url = decoded.chars.replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
      if (url.includes('javascript:')) problems.push(`javascript: in ${name}`);
      if (encodedScheme(decoded)) problems.push(`entity-encoded scheme in ${name}`);
    }
  }
  return problems;
}

interface Tag {
  name: string;
  attributes: Array<[string, string]>;
}

/** Start tags with their attributes; quoted values may hold `>`. */
function tags(markup: string): Tag[] {
  const out: Tag[] = [];
  const open = /<([A-Za-z_][\w:.-]*)/g;
  for (let m = open.exec(markup); m !== null; m = open.exec(markup)) {
    const tag: Tag = { name: m[1]!, attributes: [] };
    let i = open.lastIndex;
    for (;;) {
      while (i < markup.length && /\s/.test(markup[i]!)) i++;
      if (i >= markup.length || markup[i] === '>' || markup[i] === '/' || markup[i] === '<') break;
      const nameStart = i;
      while (i < markup.length && !/[\s=/><]/.test(markup[i]!)) i++;
      const name = markup.slice(nameStart, i);
      while (i < markup.length && /\s/.test(markup[i]!)) i++;
      let value = '';
      if (markup[i] === '=') {
        i++;
        while (i < markup.length && /\s/.test(markup[i]!)) i++;
        const quote = markup[i];
        if (quote === '"' || quote === "'") {
          const end = markup.indexOf(quote, i + 1);
          value = markup.slice(i + 1, end < 0 ? markup.length : end);
          i = end < 0 ? markup.length : end + 1;
        } else {
          const start = i;
          while (i < markup.length && !/[\s>]/.test(markup[i]!)) i++;
          value = markup.slice(start, i);
        }
      }
      if (name === '') i++;
      else tag.attributes.push([name, value]);
    }
    out.push(tag);
  }
  return out;
}

interface Decoded {
  chars: string;
  /** per character of `chars`: did it come from a character reference */
  fromReference: boolean[];
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes character references; a named one XML does not define counts as a colon (HTML's `&colon;`). */
function decode(value: string): Decoded {
  const decoded: Decoded = { chars: '', fromReference: [] };
  const re = /&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|([A-Za-z][A-Za-z0-9]*));?|[^]/gu;
  for (const m of value.matchAll(re)) {
    let ch: string;
    let ref = true;
    if (m[1] !== undefined) ch = codePoint(parseInt(m[1], 10));
    else if (m[2] !== undefined) ch = codePoint(parseInt(m[2], 16));
    else if (m[3] !== undefined) ch = NAMED[m[3].toLowerCase()] ?? ':';
    else {
      ch = m[0];
      ref = false;
    }
    for (const unit of ch) {
      decoded.chars += unit;
      decoded.fromReference.push(ref);
    }
  }
  return decoded;
}

function codePoint(n: number): string {
  return n <= 0x10ffff ? String.fromCodePoint(n) : '\ufffd';
}

/** A scheme (letters etc., skipping blanks and controls, up to a colon) with any reference in it. */
function encodedScheme(d: Decoded): boolean {
  const chars = [...d.chars];
  let referenced = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    referenced ||= d.fromReference[i] ?? false;
    if (c === ':') return referenced;
    if (/[\u0000-\u0020\u007f]/.test(c)) continue;
    if (!/[A-Za-z0-9+.-]/.test(c)) return false;
  }
  return false;
}
