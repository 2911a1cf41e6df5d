/**
 * Decides whether an SVG upload is safe to keep. An SVG opened directly is a
 * document that can run script, so active content is rejected outright (not
 * stripped: a silently altered file is a surprise, a clear reason is not):
 * `<script>`, `<foreignObject>` (embeds HTML), other embedding elements,
 * `on*` event-handler attributes, `javascript:` URLs in any attribute, and
 * entity declarations (entity expansion bombs and obfuscation). Also refused:
 * any DOCTYPE (its internal subset can give every <svg> a default `onload`
 * attribute that no element spells out), any processing instruction but the
 * XML declaration (`<?xml-stylesheet?>` loads a stylesheet, XSLT included),
 * and a URL scheme written with character references (`javascript&colon;`:
 * XML leaves the reference alone, but an SVG pasted into HTML decodes it).
 * Serving adds a sandboxing CSP on top, for files stored before these rules
 * existed.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type SvgVerdict =
  | { ok: true; width: number | null; height: number | null }
  | { ok: false; reason: string; notSvg?: boolean };

const FORBIDDEN_ELEMENTS = new Set(['script', 'foreignobject', 'iframe', 'embed', 'object', 'handler', 'listener']);
const ATTRS = ':@';

/**
 * The XML declaration, the one processing instruction allowed: only at the
 * start, and only pseudo-attributes (version, encoding, standalone) inside.
 */
const XML_DECLARATION = /^\s*<\?xml(?:\s+[A-Za-z]+\s*=\s*(?:"[^"<>?]*"|'[^'<>?]*'))*\s*\?>/;

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: true,
  // Entities are left as written: expanding them is what bombs and
  // obfuscated `javascript:` rely on (numeric references are decoded by
  // `normaliseUrl` for the URL check only).
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  commentPropName: '#comment',
});

export function inspectSvg(text: string): SvgVerdict {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (/<!ENTITY/i.test(source)) return { ok: false, reason: 'SVG rejected: it declares XML entities (<!ENTITY>), which are not allowed' };
  if (/<!DOCTYPE/i.test(source)) {
    return { ok: false, reason: 'SVG rejected: it has a DOCTYPE (which can declare default attributes such as onload), which is not allowed' };
  }
  // Only comments and CDATA sections may start with `<!`: any other markup
  // declaration (`<!ATTLIST`, `<!ELEMENT`, or one the parser misreads, such
  // as `<!x[CDATA[<script>…]]>` found by fuzzing, which hid a script from the
  // element walk) is refused outright.
  if (/<!(?!--|\[CDATA\[)/.test(source)) {
    return { ok: false, reason: 'SVG rejected: it contains a markup declaration (<!…> other than a comment or CDATA), which is not allowed' };
  }
  if (source.replace(XML_DECLARATION, '').includes('<?')) {
    return { ok: false, reason: 'SVG rejected: it contains a processing instruction (<?…?>, e.g. xml-stylesheet), which is not allowed' };
  }
  const valid = XMLValidator.validate(source, { allowBooleanAttributes: true });
  if (valid !== true) {
    return { ok: false, notSvg: true, reason: `not a well-formed SVG/XML document (${valid.err.msg} at line ${valid.err.line})` };
  }
  let nodes: XmlNode[];
  try {
    nodes = parser.parse(source) as XmlNode[];
  } catch (err) {
    // The validator lets some malformed markup through that the parser then
    // throws on (found by fuzzing: an unclosed comment or CDATA section after
    // the root); it is not a well-formed document either way.
    return { ok: false, notSvg: true, reason: `not a well-formed SVG/XML document (${err instanceof Error ? err.message : String(err)})` };
  }
  const root = nodes.find((n) => elementName(n) !== undefined && !elementName(n)!.startsWith('?'));
  const rootName = root ? elementName(root) : undefined;
  if (!root || rootName === undefined || localName(rootName) !== 'svg') {
    return { ok: false, notSvg: true, reason: `an XML document whose root is <${rootName ?? '?'}>, not <svg>` };
  }
  const problem = findActiveContent(nodes);
  if (problem) return { ok: false, reason: `SVG rejected: it contains ${problem}` };
  const attrs = attributesOf(root);
  const box = /^\s*[-\d.eE+]+[\s,]+[-\d.eE+]+[\s,]+([\d.eE+]+)[\s,]+([\d.eE+]+)\s*$/.exec(attrs.viewBox ?? '');
  return {
    ok: true,
    width: pixels(attrs.width) ?? pixels(box?.[1]),
    height: pixels(attrs.height) ?? pixels(box?.[2]),
  };
}

function findActiveContent(nodes: XmlNode[]): string | undefined {
  for (const node of nodes) {
    const name = elementName(node);
    if (name === undefined || name === '#comment') continue;
    const local = localName(name).toLowerCase();
    if (FORBIDDEN_ELEMENTS.has(local)) return `a <${name}> element`;
    for (const [attr, value] of Object.entries(attributesOf(node))) {
      if (localName(attr).toLowerCase().startsWith('on')) return `an event-handler attribute (${attr} on <${name}>)`;
      // `<` cannot appear in a well-formed attribute value, but the validator lets it through.
      if (value.includes('<')) return `a "<" inside an attribute value (${attr} on <${name}>), which XML does not allow`;
      if (normaliseUrl(value).includes('javascript:')) return `a javascript: URL (in ${attr} on <${name}>)`;
      if (hasEncodedScheme(value)) return `a URL scheme written with character references (in ${attr} on <${name}>)`;
    }
    const children = node[name];
    if (Array.isArray(children)) {
      const found = findActiveContent(children as XmlNode[]);
      if (found) return found;
    }
  }
  return undefined;
}

/** The tag name of a preserveOrder node; undefined for text nodes. */
function elementName(node: XmlNode): string | undefined {
  for (const key of Object.keys(node)) {
    if (key !== ATTRS && key !== '#text') return key;
  }
  return undefined;
}

function attributesOf(node: XmlNode): Record<string, string> {
  const raw = node[ATTRS];
  if (typeof raw !== 'object' || raw === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[k] = typeof v === 'string' ? v : String(v);
  return out;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : name;
}

/**
 * Decodes character references (an unknown named one as a colon, see
 * decodeReference) and drops whitespace/control characters, as URL parsers do.
 */
function normaliseUrl(value: string): string {
  return value
    .replace(REFERENCES, (_, body: string) => decodeReference(body))
    .replace(/[\u0000-\u0020\u007f]+/g, '')
    .toLowerCase();
}

/** What XML itself defines; any other named reference is unknown here and might be a colon (`&colon;`) to HTML. */
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const REFERENCE = /^&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);?/i;
const REFERENCES = new RegExp(REFERENCE.source.slice(1), 'gi');

/**
 * Whether `value` starts with a URL scheme (`name:`, where URL parsers skip
 * whitespace and control characters) in which any character, the colon
 * included, is a character reference. Decoding stops at the first character
 * a scheme cannot contain, so text such as `Tom &amp; Jerry` is left alone.
 */
function hasEncodedScheme(value: string): boolean {
  let referenced = false;
  let i = 0;
  while (i < value.length) {
    let ch = value[i]!;
    const ref = ch === '&' ? REFERENCE.exec(value.slice(i, i + 48)) : null;
    if (ref) {
      referenced = true;
      ch = decodeReference(ref[1]!);
      i += ref[0].length;
    } else {
      i++;
    }
    if (ch === ':') return referenced;
    if (!/^[a-z0-9+.\-\u0000-\u0020\u007f]$/i.test(ch)) return false;
  }
  return false;
}

function decodeReference(body: string): string {
  if (body[0] !== '#') return PREDEFINED[body.toLowerCase()] ?? ':';
  const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
  return code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
}

function pixels(value: string | undefined): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)(px)?\s*$/.exec(value ?? '');
  if (!m) return null;
  const n = Math.round(Number(m[1]));
  return n > 0 ? n : null;
}
