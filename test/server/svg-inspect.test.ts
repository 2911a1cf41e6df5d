/**
 * The SVG guard on the shapes the issue found passing (a DOCTYPE whose
 * internal subset adds a default onload, `javascript&colon;`, an
 * xml-stylesheet processing instruction) and their variants, and what it
 * must keep accepting (the XML declaration, `&amp;` in text and URLs).
 * The test oracle (test/helpers/svg-oracle.ts) is checked here too, so the
 * fuzz tests that rely on it cannot pass because it sees nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { inspectSvg } from '../../server/upload/svg-inspect.js';
import { activeContentIn } from '../helpers/svg-oracle.js';

const Svg = suite('svg-inspect');

const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
const doc = (inner: string, prolog = ''): string => `${prolog}<svg ${NS} width="10" height="10">${inner}</svg>`;

const REFUSED: Array<[label: string, svg: string, reason: string]> = [
  ['DOCTYPE with a default onload attribute', doc('<rect/>', '<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]>'), 'DOCTYPE'],
  ['DOCTYPE after the declaration, lower case', doc('<rect/>', '<?xml version="1.0"?><!doctype svg [<!ATTLIST rect onclick CDATA "x">]>'), 'DOCTYPE'],
  ['public DOCTYPE', doc('<rect/>', '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'), 'DOCTYPE'],
  ['javascript&colon;', doc('<a href="javascript&colon;alert(1)"><rect/></a>'), 'javascript:'],
  ['JaVaScRiPt&COLON; in xlink:href', doc('<a xlink:href="JaVaScRiPt&COLON;alert(1)"><rect/></a>'), 'javascript:'],
  ['&Tab; inside the scheme', doc('<a href="java&Tab;script:alert(1)"><rect/></a>'), 'character references'],
  ['numeric colon', doc('<a href="javascript&#58;alert(1)"><rect/></a>'), 'javascript:'],
  ['hex colon, leading blanks', doc('<a href="  javascript&#x3A;alert(1)"><rect/></a>'), 'javascript:'],
  ['encoded scheme of another name', doc('<a href="vbscript&colon;x"><rect/></a>'), 'character references'],
  ['xml-stylesheet after the declaration', doc('<rect/>', '<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="evil.xsl"?>'), 'processing instruction'],
  ['xml-stylesheet first', doc('<rect/>', '<?xml-stylesheet href="a.css"?>'), 'processing instruction'],
  ['processing instruction inside', doc('<g><?php echo 1 ?></g>'), 'processing instruction'],
  ['a second declaration', doc('<rect/>', '<?xml version="1.0"?><?xml version="1.0"?>'), 'processing instruction'],
  ['markup inside the declaration', doc('<rect/>', '<?xml <script>alert(1)</script>version="1.0"?>'), 'processing instruction'],
  ['"<" inside an attribute value', doc('<rect title="<script>alert(1)</script>"/>'), 'attribute value'],
  // Found by fuzzing: a markup declaration the parser misreads as CDATA, hiding a script from the element walk.
  ['a script inside a bogus <!…[CDATA[ declaration', doc('<!javascript:alert(1)[CDATA[<script>alert(1)</script>]]>'), 'markup declaration'],
];

for (const [label, svg, reason] of REFUSED) {
  Svg(`refused: ${label}`, () => {
    const verdict = inspectSvg(svg);
    if (verdict.ok) assert.unreachable(`accepted: ${svg}`);
    else assert.ok(verdict.reason.includes(reason), verdict.reason);
    assert.ok(activeContentIn(svg).length > 0, `the oracle sees nothing in ${svg}`);
  });
}

// Found by fuzzing: the validator passes these; the parser threw on both (an
// exception where a verdict belongs). Refused as malformed, with no active content.
const MALFORMED: Array<[label: string, svg: string, reason: string]> = [
  ['an unclosed comment after the root', `${doc('<rect/>')}<!--;]</svg>`, 'Comment is not closed'],
  ['an unclosed declaration', doc('<rect/>', '<?xml "version="1.0"?>'), 'processing instruction'],
];

for (const [label, svg, reason] of MALFORMED) {
  Svg(`refused as malformed: ${label}`, () => {
    const verdict = inspectSvg(svg);
    if (verdict.ok) assert.unreachable(`accepted: ${svg}`);
    else assert.ok(verdict.reason.includes(reason), verdict.reason);
  });
}

const ACCEPTED: Array<[label: string, svg: string]> = [
  ['plain', doc('<rect width="1" height="1" fill="red"/>')],
  ['XML declaration', doc('<rect/>', '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')],
  ['&amp; in text and attributes', doc('<text font-family="Tom &amp; Jerry">a &amp; b &lt; c</text>')],
  ['&amp; in a URL query', doc('<a href="https://example.test/?a=1&amp;b=2"><rect/></a>')],
  ['a fragment link and a data image', doc('<use href="#a"/><image href="data:image/png;base64,iVBORw0KGgo="/>')],
  ['a comment', doc('<!-- made by hand --><rect/>')],
  ['a numeric reference in a label', doc('<title>&#169; 2026</title><rect aria-label="&#169; 2026: logo"/>')],
];

for (const [label, svg] of ACCEPTED) {
  Svg(`accepted: ${label}`, () => {
    const verdict = inspectSvg(svg);
    assert.ok(verdict.ok, verdict.ok ? '' : verdict.reason);
    assert.equal(activeContentIn(svg), []);
  });
}

Svg.run();
