/**
 * Nesting depth at the HTTP edge: every JSON route refuses a body nested past
 * MAX_JSON_DEPTH with 400 TOO_DEEP (never a 5xx), changes nothing on disk,
 * and counts only real nesting (brackets inside strings are text).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_JSON_DEPTH } from '../../shared/json-depth.js';
import { assertError, hashTree, startServer, type TestServer } from './harness.js';

const Edge = suite('server json nesting depth');

let server: TestServer;
const P = 'edge';

Edge.before(async () => {
  server = await startServer('json-edge');
  await server.createProject('Edge', P);
});

Edge.after(async () => {
  await server?.close();
});

const JSON_TYPE = { 'content-type': 'application/json' };

/** `{"a":[[…]]}` with `depth` levels in all (the outer object counts). */
function deepBody(depth: number): string {
  return `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
}

const ROUTES: Array<[method: string, path: string]> = [
  ['POST', '/api/projects'],
  ['POST', `/api/projects/${P}/pages/home/content`],
  ['POST', `/api/projects/${P}/global-widgets/header`],
  ['PUT', `/api/projects/${P}/theme-settings`],
  ['PUT', `/api/media/projects/${P}/media/nope/metadata`],
  ['POST', `/api/media/projects/${P}/media/bulk-delete`],
];

Edge('a body nested 100,000 levels is 400 TOO_DEEP on every JSON route, and nothing changes', async () => {
  const before = await hashTree(server.dataDir);
  for (const [method, path] of ROUTES) {
    const res = await server.request(method, path, { headers: JSON_TYPE, body: deepBody(100_000) });
    assertError(res, 400, 'TOO_DEEP');
    assert.is(res.json.maxDepth, MAX_JSON_DEPTH);
  }
  assert.is(await hashTree(server.dataDir), before);
  const ok = await server.request('POST', `/api/projects/${P}/pages/home/content`, { json: { widgets: {} } });
  assert.is(ok.status, 200, ok.text);
});

Edge('exactly MAX_JSON_DEPTH levels save; one more is TOO_DEEP', async () => {
  const path = `/api/projects/${P}/pages/limit/content`;
  const ok = await server.request('POST', path, { headers: JSON_TYPE, body: deepBody(MAX_JSON_DEPTH) });
  assert.is(ok.status, 200, ok.text);
  const read = await server.request('GET', `/api/projects/${P}/pages/limit`);
  assert.equal(read.json, JSON.parse(deepBody(MAX_JSON_DEPTH)));
  assertError(await server.request('POST', path, { headers: JSON_TYPE, body: deepBody(MAX_JSON_DEPTH + 1) }), 400, 'TOO_DEEP');
});

Edge('brackets inside strings, escaped quotes included, are text and do not count', async () => {
  const text = `${'[{'.repeat(5000)} \\" ${'['.repeat(5000)} \\\\`;
  const body = `{"html":"${text}","after":{"x":[1]}}`;
  const res = await server.request('POST', `/api/projects/${P}/pages/strings/content`, { headers: JSON_TYPE, body });
  assert.is(res.status, 200, res.text);
  const read = await server.request('GET', `/api/projects/${P}/pages/strings`);
  assert.equal(read.json, JSON.parse(body));
});

Edge('a string that ends in an escaped backslash closes, so nesting after it counts', async () => {
  const body = `{"s":"\\\\","deep":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`;
  assertError(await server.request('POST', `/api/projects/${P}/pages/esc/content`, { headers: JSON_TYPE, body }), 400, 'TOO_DEEP');
});

Edge('pretty-printing cannot blow up: wide, deep (but allowed) arrays save within the content cap or are 413 CONTENT_TOO_LARGE', async () => {
  // 60 levels in 120 bytes print as ~7 KB: 4,000 of them (480 KB) would be ~30 MB on disk.
  const group = `${'['.repeat(59)}${']'.repeat(59)}`;
  const body = `{"a":[${Array.from({ length: 4000 }, () => group).join(',')}]}`;
  const before = await hashTree(server.dataDir);
  const res = await server.request('POST', `/api/projects/${P}/pages/wide/content`, { headers: JSON_TYPE, body });
  assertError(res, 413, 'CONTENT_TOO_LARGE');
  assert.is(await hashTree(server.dataDir), before);
});

Edge.run();
