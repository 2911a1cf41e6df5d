/**
 * The SVG shapes the issue found passing the guard, uploaded over HTTP: each
 * is refused (UNSAFE_SVG with its reason) and nothing is stored; malformed
 * markup the XML parser throws on is a rejection too, not a 5xx.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { svg } from '../fixtures/media-samples.js';
import { assertError, hashTree, startServer, type TestServer } from './harness.js';

const Guard = suite('server svg upload guard');

let server: TestServer;
const P = 'svg-guard';

Guard.before(async () => {
  server = await startServer('svg-guard');
  await server.createProject('SVG guard', P);
});

Guard.after(async () => {
  await server?.close();
});

const NS = 'xmlns="http://www.w3.org/2000/svg"';
const HOSTILE: Array<[name: string, data: Buffer, reason: RegExp]> = [
  ['doctype.svg', Buffer.from(`<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(document.domain)">]><svg ${NS}><rect width="1" height="1"/></svg>`), /DOCTYPE/],
  ['colon.svg', svg('<a href="javascript&colon;alert(1)"><text>x</text></a>'), /javascript:/],
  ['stylesheet.svg', Buffer.from(`<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="evil.xsl"?><svg ${NS}/>`), /processing instruction/],
];

Guard('the issue\'s three hostile SVGs are refused with their reasons, and nothing is stored', async () => {
  const before = await hashTree(server.dataDir);
  const res = await server.upload(P, HOSTILE.map(([filename, data]) => ({ filename, data })));
  assertError(res, 400, 'UPLOAD_REJECTED');
  const rejected = res.json.rejectedFiles as Array<{ originalName: string; reason: string; code: string }>;
  assert.is(rejected.length, HOSTILE.length);
  for (const [i, [name, , reason]] of HOSTILE.entries()) {
    assert.is(rejected[i]!.originalName, name);
    assert.is(rejected[i]!.code, 'UNSAFE_SVG');
    assert.match(rejected[i]!.reason, reason);
  }
  assert.is(await hashTree(server.dataDir), before);
});

Guard('markup the XML parser throws on is a rejection, not a 5xx', async () => {
  const before = await hashTree(server.dataDir);
  const res = await server.upload(P, [{ filename: 'broken.svg', data: Buffer.from(`<svg ${NS}></svg><!--;]</svg>`) }]);
  assertError(res, 400, 'UPLOAD_REJECTED');
  assert.is(await hashTree(server.dataDir), before);
});

Guard.run();
