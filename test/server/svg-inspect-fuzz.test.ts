/**
 * Fuzzing the SVG guard: random documents built from benign and hostile
 * parts, and random hostile tokens spliced into them at random places. Any
 * document the guard accepts must hold nothing the independent oracle
 * (test/helpers/svg-oracle.ts) calls active content: no script or embedding
 * element, no handler, no javascript: URL, no DOCTYPE, no processing
 * instruction but the declaration, no entity-encoded scheme.
 * Runs: a few hundred by default; FUZZ_RUNS=<n> for a longer run.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { inspectSvg } from '../../server/upload/svg-inspect.js';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { activeContentIn } from '../helpers/svg-oracle.js';

const Fuzz = suite('svg-inspect fuzz');

/** `javascript:` (or another scheme) with each character written literally, as a reference, in another case, or padded with blanks. */
const schemeUrl = fc
  .tuple(
    fc.constantFrom('javascript', 'vbscript', 'data', 'https'),
    fc.array(fc.constantFrom('lit', 'dec', 'hex', 'upper', 'tab', 'named-tab'), { minLength: 12, maxLength: 12 }),
    fc.constantFrom(':', '&colon;', '&#58;', '&#x3a;', '&#0000058', '&COLON;', '&NewLine;:'),
    fc.constantFrom('alert(1)', '//example.test/a.png', 'text/html,<b>x</b>'),
  )
  .map(([scheme, how, colon, rest]) => {
    const chars = [...scheme].map((c, i) => {
      switch (how[i % how.length]) {
        case 'dec':
          return `&#${c.charCodeAt(0)};`;
        case 'hex':
          return `&#x${c.charCodeAt(0).toString(16)};`;
        case 'upper':
          return c.toUpperCase();
        case 'tab':
          return `\t${c}`;
        case 'named-tab':
          return `&Tab;${c}`;
        default:
          return c;
      }
    });
    return `${chars.join('')}${colon}${rest}`;
  });

const attrValue = fc.oneof(
  fc.constantFrom('10', 'red', 'url(#g)', '#a', 'Tom &amp; Jerry', 'https://example.test/?a=1&amp;b=2', '&#169; 2026', 'a&gt;b', ''),
  schemeUrl,
  fc.string({ maxLength: 12 }).map((s) => s.replace(/[<&"]/g, '')),
);

const attrName = fc.constantFrom('width', 'fill', 'href', 'xlink:href', 'style', 'title', 'id', 'onload', 'ONCLICK', 'onmouseover', 'svg:onload', 'values', 'to');

const attributes = fc.array(fc.tuple(attrName, attrValue), { maxLength: 3 }).map((pairs) => {
  const seen = new Set<string>();
  return pairs
    .filter(([name]) => !seen.has(name.toLowerCase()) && seen.add(name.toLowerCase()))
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
});

const elementName = fc.constantFrom('rect', 'g', 'a', 'text', 'use', 'image', 'animate', 'set', 'script', 'SCRIPT', 'svg:script', 'foreignObject', 'iframe', 'handler');

const fragment: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(elementName, attributes).map(([name, attrs]) => `<${name}${attrs}/>`),
  fc.tuple(elementName, attributes, fc.constantFrom('x', 'a &amp; b', '&#60;script&#62;', '')).map(([name, attrs, text]) => `<${name}${attrs}>${text}</${name}>`),
  fc.constantFrom(
    '<!-- a comment with <script> in it -->',
    '<?xml-stylesheet href="a.css"?>',
    '<?php x ?>',
    '<![CDATA[<script>alert(1)</script>]]>',
    '<text>a &lt; b</text>',
  ),
);

const prolog = fc.constantFrom(
  '',
  '<?xml version="1.0" encoding="UTF-8"?>\n',
  '\uFEFF<?xml version="1.0"?>',
  '<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]>',
  '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">',
  '<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="x.xsl"?>',
  '<!DOCTYPE svg [<!ENTITY e "javascript:alert(1)">]>',
);

const documentText = fc
  .tuple(prolog, attributes, fc.array(fragment, { maxLength: 6 }))
  .map(([head, rootAttrs, parts]) => `${head}<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"${rootAttrs}>${parts.join('')}</svg>`);

const hostileToken = fc.oneof(
  fc.constantFrom(
    '<!DOCTYPE svg>',
    '<!doctype x [<!ATTLIST a onclick CDATA "x">]>',
    '<?xml-stylesheet href="a.css"?>',
    '<?x?>',
    ' onload="alert(1)"',
    ' href="javascript&colon;alert(1)"',
    '<script>alert(1)</script>',
    '<svg:script/>',
    '&colon;',
    '&#58;',
    '"',
    "'",
    '>',
    '<',
    '-->',
    '<!--',
    ']]>',
    '<![CDATA[',
  ),
  schemeUrl,
);

/** A document with hostile tokens spliced in at random offsets. */
const mutated = fc
  .tuple(documentText, fc.array(fc.tuple(fc.nat(), hostileToken), { minLength: 1, maxLength: 3 }))
  .map(([text, edits]) => edits.reduce((t, [at, token]) => t.slice(0, at % (t.length + 1)) + token + t.slice(at % (t.length + 1)), text));

function checkAccepted(text: string, tally: { accepted: number; refused: number }): void {
  const verdict = inspectSvg(text);
  if (!verdict.ok) {
    tally.refused++;
    return;
  }
  tally.accepted++;
  const problems = activeContentIn(text);
  if (problems.length > 0) assert.unreachable(`accepted although it holds ${problems.join(', ')}: ${JSON.stringify(text)}`);
}

Fuzz('random documents: whatever the guard accepts holds no active content', () => {
  const tally = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(documentText, (text) => checkAccepted(text, tally)),
    { numRuns: fuzzRuns(1500) },
  );
  // Both sides were exercised, or the property proved nothing.
  assert.ok(tally.accepted > 0 && tally.refused > 0, JSON.stringify(tally));
});

Fuzz('mutated documents: hostile tokens spliced in anywhere', () => {
  const tally = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(mutated, (text) => checkAccepted(text, tally)),
    { numRuns: fuzzRuns(1500) },
  );
  assert.ok(tally.accepted > 0 && tally.refused > 0, JSON.stringify(tally));
});

Fuzz.run();
