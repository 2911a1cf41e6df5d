/**
 * The usage extractor against a simple reference, on random and adversarial
 * strings, and its running time against the length of its input.
 *
 * The reference (usage-extraction-reference.ts) reads the documented rules
 * the slow, obvious way: at every position, character by character, no regex
 * for the path itself, and undoes escapes with one regex replace where the
 * extractor has a hand-written loop. The extractor must find exactly what it
 * finds, in the same order.
 *
 * Linearity is asserted without absolute times (the machine is shared): the
 * median time to scan one long adversarial string is compared with the median
 * time to scan its 1/16 slice 16 times, the same number of characters. A
 * linear scan makes that ratio about 1; the quadratic scan of issue 6 made
 * it about 16. The absolute time for 2 MB is printed, not asserted.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mayHoldEscapes, unescapeMarkup } from '../../storage-worker/markup-unescape.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';
import { referenceMediaPaths, referenceUnescape } from './usage-extraction-reference.js';

const F = suite('usage-extraction-fuzz');

/** Pieces that make paths, near-misses and every escape the extractor reads. */
const TOKENS = [
  'uploads', 'UPLOADS', 'UpLoads', 'upload', 'xuploads', 'media-uploads',
  '/', '//', '%2F', '%2f', '\\/', '\\u002F', '&#x2F;', '&#47;', '&#047', '&sol;', '\\',
  'images', 'videos', 'audios', 'files', 'IMAGES', 'imagesx', 'file', '%69mages', '%69', '%6D', '%2569',
  'a', 'b.png', 'a.jpg', 'hero-small.jpg', 'x_y', '.', '..', '!', ':', '-',
  '%', '%20', '%25', '%2E', '%3F', '%26', '%E0%A4', '%C3%A9', '%5C', '%2E%2E', '%C0%AF', '%ED%A0%80', '%ED%9F%BF', '%EF%BF%BF',
  '%F0%9F%98%80', '%F4%8F%BF%BF', '%F4%90%80%80', '%E0%9F%80', '%80', '%C2', '%e2%82%ac', '%F8%88%80%80%80',
  '&', '&amp;', '&quot;', '&#46;', '&period;', '&#x110000;', ';', '?', '#', '"', "'", '`', ' ', '\n', '\t', '\u00a0',
  '(', ')', '<', '>', ',', '[', ']', '{', '}', '|', '=', 'http://h/', '/api/media/projects/p/',
  'ſ', 'K', 'é', '\ud800', '😀',
];

/** A path-shaped run, each part in one of its spellings or a near-miss, so random strings hold (almost-)paths often. */
const pathish = fc
  .tuple(
    fc.constantFrom('', '/', 'x', '-', '"', '%2F', '\\/', '&#x2F;', 'http://h/', '/api/media/projects/p/'),
    fc.constantFrom('uploads', 'UPLOADS', 'Uploads', 'upload', 'uploadsx'),
    fc.constantFrom('/', '%2F', '%2f', '\\/', '&#47;', '&sol;', '//', '\\'),
    fc.constantFrom('images', 'videos', 'audios', 'files', 'IMAGES', 'imagess', 'file', '%69mages', '%2569mages', 'f%69les', 'images%2F'),
    fc.constantFrom('/', '%2F', '\\/', '&#x2F;', '&#x2F', '/ '),
    fc.constantFrom('a.png', 'b', 'a.', 'a..', '.', '..', '%61.png', '%2E%2E', 'my%2520photo.jpg', 'a.jpg%3Fv%3D2', 'a%2Fb.png', 'a%252Fb', 'x&#46;png', 'uploads', '100%-done.png', 'a%E0%A4', ''),
    fc.constantFrom('', '.', '!', '/', '?v=1', '#t', '"', '%2F', '%', '&amp;', ')', ' ', 'uploads/images/z.png'),
  )
  .map((parts) => parts.join(''));

const tokenString = fc.array(fc.oneof(fc.constantFrom(...TOKENS), pathish), { maxLength: 30 }).map((parts) => parts.join(''));
const anyString = fc.oneof(tokenString, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 }));

F('agrees with the reference on random and adversarial strings', () => {
  let withPaths = 0;
  fc.assert(
    fc.property(anyString, (text) => {
      const paths = referenceMediaPaths(text);
      if (paths.length > 0) withPaths++;
      assert.equal(extractMediaPaths(text), paths, JSON.stringify(text));
    }),
    { numRuns: 2_000 },
  );
  // The generator must reach the interesting cases, not just agree on nothing.
  assert.ok(withPaths > 60, `only ${withPaths} of 2000 strings held a path`);
});

F('agrees with the reference on long repetitions of adversarial pieces', () => {
  const repeated = fc.tuple(tokenString, fc.integer({ min: 2, max: 30 })).map(([unit, times]) => unit.repeat(times));
  fc.assert(
    fc.property(repeated, (text) => {
      assert.equal(extractMediaPaths(text), referenceMediaPaths(text), JSON.stringify(text));
    }),
    { numRuns: 500 },
  );
});

F('names made of random percent-escaped bytes decode as decodeURIComponent would, or stay literal', () => {
  const escapedBytes = fc
    .array(fc.oneof(fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`), fc.constantFrom('%', 'a', '%2', '%G0')), { minLength: 1, maxLength: 8 })
    .map((parts) => parts.join(''));
  const utf8Escaped = fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }).map((t) => encodeURIComponent(t));
  fc.assert(
    fc.property(fc.oneof(escapedBytes, utf8Escaped), fc.boolean(), (name, encodedPath) => {
      const text = encodedPath ? `%2Fuploads%2Fimages%2F${encodeURIComponent(name)}` : `/uploads/images/${name}`;
      assert.equal(extractMediaPaths(text), referenceMediaPaths(text), JSON.stringify(text));
    }),
    { numRuns: 2_000 },
  );
});

F('content trees: every string and key is scanned, in document order, duplicates once', () => {
  const tree = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      tokenString,
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(tokenString, tie('node'), { maxKeys: 4 }),
      fc.constantFrom(null, 1, true),
    ),
  })).node;
  fc.assert(
    fc.property(tree, (content) => {
      const expected = new Set<string>();
      visit(content, (text) => referenceMediaPaths(text).forEach((p) => expected.add(p)));
      assert.equal(extractMediaPaths(content), [...expected]);
    }),
    { numRuns: 500 },
  );
});

/** Pre-order, key before value: the order the extractor documents. */
function visit(value: unknown, onText: (text: string) => void): void {
  if (typeof value === 'string') onText(value);
  else if (Array.isArray(value)) value.forEach((v) => visit(v, onText));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      onText(k);
      visit(v, onText);
    }
  }
}

F('unescapeMarkup agrees with a one-regex reference', () => {
  const escapes = fc.constantFrom('\\', '\\u', '\\u002F', '\\u00', '\\n', '\\"', '&', '&#', '&#x', '&#X', '&#0', '&#00;', '&#47', '&#x2f;',
    '&#x0000002F', '&#x1234567;', '&#12345678;', '&#xD800;', '&sol', '&sol;', '&amp;lt;', '&ampx', '&UnderBar;', '&unknown;', ';', '0', '7', 'a', 'F', 'x');
  const text = fc.oneof(fc.array(escapes, { maxLength: 20 }).map((parts) => parts.join('')), fc.string({ unit: 'binary', maxLength: 40 }));
  fc.assert(
    fc.property(text, (t) => {
      assert.is(unescapeMarkup(t), referenceUnescape(t), JSON.stringify(t));
      if (!mayHoldEscapes(t)) assert.is(unescapeMarkup(t), t);
    }),
    { numRuns: 3_000 },
  );
});

F('unescapeMarkup: one level of JSON escapes and HTML references', () => {
  assert.is(unescapeMarkup('\\/uploads\\/a \\u002Fb \\"q\\" \\\\x \\n'), '/uploads/a /b "q" \\x  ');
  assert.is(unescapeMarkup('&#x2F;&#X2f;&#47;&#0047;&#x002F&sol;&period;&amp;lt;&#x110000;&#xD800;&unknown;'), '//////.&lt;\uFFFD\uFFFD&unknown;');
  assert.is(mayHoldEscapes('plain /uploads/images/a.png'), false);
  assert.is(mayHoldEscapes('a&amp;b'), true);
});

// ---------------------------------------------------------------- linear time

const SHARD = 16;
const SAMPLES = 5;

/** Median ms to scan `text` once, and to scan its 1/SHARD slice SHARD times. */
function timeWholeAndShards(text: string): { whole: number; shards: number } {
  const shard = text.slice(0, Math.floor(text.length / SHARD));
  const whole: number[] = [];
  const shards: number[] = [];
  extractMediaPaths(text); // warm up
  for (let s = 0; s < SAMPLES; s++) {
    let t = performance.now();
    for (let i = 0; i < SHARD; i++) extractMediaPaths(shard);
    shards.push(performance.now() - t);
    t = performance.now();
    extractMediaPaths(text);
    whole.push(performance.now() - t);
  }
  return { whole: median(whole), shards: median(shards) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function repeatTo(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * Generous slack: a linear scan is ~1, quadratic ~16. A floor of 2 ms on the
 * shard time keeps timer granularity from deciding a ratio of tiny numbers.
 */
function assertLinear(label: string, text: string): void {
  const { whole, shards } = timeWholeAndShards(text);
  const ratio = whole / Math.max(shards, 2);
  assert.ok(ratio < 4, `${label}: scanning ${text.length} chars took ${whole.toFixed(1)} ms, ${SHARD} × 1/${SHARD} of it ${shards.toFixed(1)} ms (ratio ${ratio.toFixed(1)})`);
}

const ADVERSARIAL_UNITS: Record<string, string> = {
  'issue 6: xuploads%2Fimages%2F': 'xuploads%2Fimages%2F',
  'rejected look-alikes': 'xuploads/images/',
  'accepted paths back to back': '/uploads/images/uploads',
  'encoded separators': '%2Fuploads%2Fimages%2F',
  'upper case, JSON-escaped': '\\/UPLOADS\\/images\\/',
  'HTML references': '&#x2F;uploads&#x2F;images&#x2F;',
  'stray percent signs in a name': 'uploads/images/%',
  'one endless name': 'a',
  'trailing dots': '.',
};

F('linear time on adversarial strings (ratio, not absolute time)', () => {
  for (const [label, unit] of Object.entries(ADVERSARIAL_UNITS)) {
    const prefix = label === 'one endless name' ? '/uploads/images/' : label === 'trailing dots' ? '/uploads/images/a' : '';
    assertLinear(label, prefix + repeatTo(unit, 256 * 1024));
  }
});

F('linear time on fuzzed repetitions', () => {
  fc.assert(
    fc.property(tokenString.filter((unit) => unit.length > 0), (unit) => {
      assertLinear(JSON.stringify(unit), repeatTo(unit, 256 * 1024));
    }),
    { numRuns: 15 },
  );
});

F('reports the time for adversarial 2 MB strings (printed, not asserted)', () => {
  const issue6 = repeatTo('xuploads%2Fimages%2F', 2 * 1024 * 1024);
  assert.equal(extractMediaPaths(issue6), []);
  for (const [label, unit] of Object.entries(ADVERSARIAL_UNITS)) {
    const text = repeatTo(unit, 2 * 1024 * 1024);
    const times: number[] = [];
    for (let s = 0; s < 3; s++) {
      const t = performance.now();
      extractMediaPaths(text);
      times.push(performance.now() - t);
    }
    console.log(`  usage extraction, 2 MB of ${JSON.stringify(unit)} (${label}): median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms`);
  }
});

F.run();
