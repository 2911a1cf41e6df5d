/**
 * What a local editor server must refuse, over HTTP: foreign Host names
 * (DNS rebinding), state changes from other origins, malformed and oversized
 * JSON, bad ids, unknown routes — each with its status and code, and the data
 * directory unchanged afterwards. Also request ids, CORS, and 5xx answers
 * that carry no stack but are logged with the request id.
 */
import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertError, hashTree, send, sendEarlyAnswer, startServer, type Res, type TestServer } from './harness.js';

const Security = suite('server security and bad input');

const EDITOR = 'http://localhost:5173';
const TRUSTED = 'http://editor.internal:8080';
let server: TestServer;
const P = 'sec';
let fileId = '';

Security.before(async () => {
  server = await startServer('security', { JSON_BODY_LIMIT: '64kb', CORS_ORIGINS: EDITOR, ALLOWED_ORIGINS: TRUSTED });
  await server.createProject('Sec', P);
  const up = await server.upload(P, [{ filename: 'a.mp4', data: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(12), Buffer.alloc(64, 1)]) }]);
  assert.is(up.status, 201, up.text);
  fileId = ((up.json.processedFiles as Array<{ id: string }>)[0]!).id;
});

Security.after(async () => {
  await server?.close();
});

const req = (method: string, path: string, headers: Record<string, string> = {}, json?: unknown): Promise<Res> =>
  server.request(method, path, json === undefined ? { headers } : { headers, json });

Security('Host: loopback names with any port pass; other names are 403 FORBIDDEN_HOST and change nothing', async () => {
  for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `LOCALHOST:${server.port}`, `[::1]:${server.port}`, 'localhost', '127.0.0.1:1']) {
    const res = await req('GET', '/api/projects', { host });
    assert.is(res.status, 200, host);
  }
  const before = await hashTree(server.dataDir);
  for (const host of ['evil.example', `evil.example:${server.port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.1', 'localhost:abc', 'local host']) {
    assertError(await req('GET', '/api/projects', { host }), 403, 'FORBIDDEN_HOST');
    assertError(await req('POST', '/api/projects', { host }, { name: 'rebound' }), 403, 'FORBIDDEN_HOST');
    assertError(await req('DELETE', `/api/projects/${P}`, { host }), 403, 'FORBIDDEN_HOST');
    assertError(await req('GET', `/api/media/projects/${P}/media/${fileId}`, { host }), 403, 'FORBIDDEN_HOST');
  }
  assert.is(await hashTree(server.dataDir), before);
});

Security('cross-origin state changes are 403 FORBIDDEN_ORIGIN; own, allowed and CORS origins pass', async () => {
  const before = await hashTree(server.dataDir);
  const foreign = ['http://evil.example', 'null', `http://localhost:${server.port + 1}`, `https://127.0.0.1:${server.port}`];
  for (const origin of foreign) {
    assertError(await req('POST', '/api/projects', { origin }, { name: 'csrf' }), 403, 'FORBIDDEN_ORIGIN');
    assertError(await req('POST', `/api/projects/${P}/pages/home/content`, { origin }, { widgets: [] }), 403, 'FORBIDDEN_ORIGIN');
    assertError(await req('PUT', `/api/media/projects/${P}/media/${fileId}/metadata`, { origin }, { title: 'x' }), 403, 'FORBIDDEN_ORIGIN');
    assertError(await req('DELETE', `/api/media/projects/${P}/media/${fileId}`, { origin }), 403, 'FORBIDDEN_ORIGIN');
    assertError(await req('DELETE', `/api/projects/${P}`, { origin }), 403, 'FORBIDDEN_ORIGIN');
  }
  // A form post from another site (text/plain, no preflight) is refused by its origin first.
  const form = await server.request('POST', '/api/projects', { headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: '{"name":"csrf"}' });
  assertError(form, 403, 'FORBIDDEN_ORIGIN');
  // Browsers that send only fetch metadata.
  for (const site of ['cross-site', 'same-site']) {
    assertError(await req('POST', '/api/projects', { 'sec-fetch-site': site }, { name: 'csrf' }), 403, 'FORBIDDEN_ORIGIN');
  }
  assert.is(await hashTree(server.dataDir), before, 'no refused request changed the data');

  const own = await req('POST', '/api/projects', { origin: `http://127.0.0.1:${server.port}`, 'sec-fetch-site': 'same-origin' }, { name: 'own', id: 'own' });
  assert.is(own.status, 201, own.text);
  const ownLocalhost = await req('POST', `/api/projects/own/pages/home/content`, { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` }, {});
  assert.is(ownLocalhost.status, 200, ownLocalhost.text);
  const trusted = await req('POST', '/api/projects/own/pages/about/content', { origin: TRUSTED }, {});
  assert.is(trusted.status, 200, trusted.text);
  assert.is(trusted.headers['access-control-allow-origin'], undefined, 'allowed to write, but not a CORS origin');
  const cors = await req('POST', '/api/projects/own/pages/contact/content', { origin: EDITOR }, {});
  assert.is(cors.status, 200, cors.text);
  assert.is(cors.headers['access-control-allow-origin'], EDITOR);
  assert.match(String(cors.headers.vary), /Origin/);
  // Reads from a foreign page get an answer but no CORS header, so the browser hides it.
  const read = await req('GET', '/api/projects', { origin: 'http://evil.example' });
  assert.is(read.status, 200);
  assert.is(read.headers['access-control-allow-origin'], undefined);
});

Security('CORS preflight: 204 with allowed methods for a CORS origin, 403 for others', async () => {
  const ok = await req('OPTIONS', `/api/projects/${P}/pages/home/content`, {
    origin: EDITOR,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type',
  });
  assert.is(ok.status, 204);
  assert.is(ok.headers['access-control-allow-origin'], EDITOR);
  assert.match(String(ok.headers['access-control-allow-methods']), /POST/);
  assert.match(String(ok.headers['access-control-allow-headers']), /Content-Type/);
  const bad = await req('OPTIONS', `/api/projects/${P}/pages/home/content`, { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
  assertError(bad, 403, 'FORBIDDEN_ORIGIN');
  assert.is(bad.headers['access-control-allow-origin'], undefined);
});

Security('malformed, empty, oversized and non-JSON bodies: 400 INVALID_JSON, 413, 415 — data unchanged', async () => {
  const before = await hashTree(server.dataDir);
  const targets: Array<[string, string]> = [
    ['POST', '/api/projects'],
    ['POST', `/api/projects/${P}/pages/home/content`],
    ['POST', `/api/projects/${P}/global-widgets/header`],
    ['PUT', `/api/projects/${P}/theme-settings`],
    ['PUT', `/api/media/projects/${P}/media/${fileId}/metadata`],
    ['POST', `/api/media/projects/${P}/media/bulk-delete`],
  ];
  const json = { 'content-type': 'application/json' };
  for (const [method, path] of targets) {
    for (const body of ['{"widgets": [', '{widgets: 1}', "{'a': 1}", '[1, 2,]', 'undefined']) {
      assertError(await server.request(method, path, { headers: json, body }), 400, 'INVALID_JSON');
    }
    assertError(await server.request(method, path, { headers: json, body: '' }), 400, 'INVALID_JSON');
    assertError(await server.request(method, path, { headers: { 'content-type': 'text/plain' }, body: '{}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assertError(await server.request(method, path, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assertError(await server.request(method, path, { headers: { ...json, 'content-encoding': 'gzip' }, body: '{}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assertError(await server.request(method, path, { headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const big = Buffer.from(JSON.stringify({ widgets: [{ settings: { html: 'x'.repeat(100 * 1024) } }] }));
  const path = `/api/projects/${P}/pages/home/content`;
  const declared = await sendEarlyAnswer(server.port, path, { ...json, 'content-length': String(big.byteLength) }, big);
  assertError(declared, 413, 'PAYLOAD_TOO_LARGE');
  assert.is(declared.json.limit, 64 * 1024);
  const chunked = await sendEarlyAnswer(server.port, path, { ...json, 'transfer-encoding': 'chunked' }, big);
  assertError(chunked, 413, 'PAYLOAD_TOO_LARGE');
  assert.is(await hashTree(server.dataDir), before);
  // Just under the limit is accepted.
  const fits = Buffer.from(JSON.stringify({ html: 'y'.repeat(60 * 1024) }));
  const ok = await server.request('POST', `/api/projects/${P}/pages/fits/content`, { headers: json, body: fits });
  assert.is(ok.status, 200, ok.text);
  await server.request('DELETE', `/api/projects/${P}/pages/fits`);
});

Security('bad ids in every route family: 400 INVALID_ID naming the parameter', async () => {
  const before = await hashTree(server.dataDir);
  const bad = ['a.b', 'a%2Fb', '..', '%2E%2E', 'a%00b', 'caf%C3%A9', 'a%20b', 'x'.repeat(65), 'global:header'];
  for (const id of bad) {
    const cases: Array<[string, string, string, unknown?]> = [
      ['GET', `/api/projects/${id}`, 'projectId'],
      ['DELETE', `/api/projects/${id}`, 'projectId'],
      ['GET', `/api/projects/${id}/pages`, 'projectId'],
      ['GET', `/api/projects/${P}/pages/${id}`, 'pageId'],
      ['DELETE', `/api/projects/${P}/pages/${id}`, 'pageId'],
      ['POST', `/api/projects/${P}/pages/${id}/content`, 'pageId', {}],
      ['GET', `/api/media/projects/${id}/media`, 'projectId'],
      ['GET', `/api/media/projects/${P}/media/${id}`, 'fileId'],
      ['GET', `/api/media/projects/${P}/media/${id}/usage`, 'fileId'],
      ['PUT', `/api/media/projects/${P}/media/${id}/metadata`, 'fileId', { title: 'x' }],
      ['DELETE', `/api/media/projects/${P}/media/${id}`, 'fileId'],
      ['POST', `/api/media/projects/${id}/refresh-usage`, 'projectId'],
      ['GET', `/api/projects/${id}/theme-settings`, 'projectId'],
    ];
    for (const [method, path, param, json] of cases) {
      const res = await req(method, path, {}, json);
      assertError(res, 400, 'INVALID_ID');
      assert.is(res.json.param, param, `${method} ${path}`);
    }
  }
  assert.is(await hashTree(server.dataDir), before);
});

Security('unknown project, page, file and route: 404 with the right code; wrong method 405', async () => {
  const before = await hashTree(server.dataDir);
  assertError(await req('GET', '/api/projects/ghost'), 404, 'PROJECT_NOT_FOUND');
  assertError(await req('GET', `/api/projects/${P}/pages/ghost`), 404, 'PAGE_NOT_FOUND');
  assertError(await req('GET', `/api/media/projects/${P}/media/ghost/usage`), 404, 'MEDIA_NOT_FOUND');
  assertError(await req('GET', '/api/nothing-here'), 404, 'NOT_FOUND');
  assertError(await req('GET', '/'), 404, 'NOT_FOUND');
  const wrong = await req('PATCH', '/api/projects');
  assertError(wrong, 405, 'METHOD_NOT_ALLOWED');
  assert.match(String(wrong.headers.allow), /POST/);
  assert.is(await hashTree(server.dataDir), before);
});

Security('X-Request-Id: generated when absent, echoed when plain, replaced when not', async () => {
  const generated = await req('GET', '/api/projects');
  assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  const echoed = await req('GET', '/api/projects', { 'x-request-id': 'client-abc.123' });
  assert.is(echoed.headers['x-request-id'], 'client-abc.123');
  const replaced = await req('GET', '/api/projects', { 'x-request-id': 'x'.repeat(200) });
  assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  const onError = await req('GET', '/api/projects/ghost', { 'x-request-id': 'trace-1' });
  assert.is(onError.headers['x-request-id'], 'trace-1');
});

Security('storage gone: 503 STORAGE_UNAVAILABLE with Retry-After, no stack, logged with the request id; health 503', async () => {
  const own = await startServer('security-5xx');
  try {
    await own.createProject('Down', 'down');
    await own.storage.close();
    const res = await send(own.port, 'POST', '/api/projects/down/pages/home/content', {
      json: { widgets: [] },
      headers: { 'x-request-id': 'req-503' },
      agent: new http.Agent(),
    });
    assertError(res, 503, 'STORAGE_UNAVAILABLE');
    assert.is(res.headers['retry-after'], '1');
    assert.equal(Object.keys(res.json).sort(), ['code', 'error', 'requestId']);
    assert.is(res.json.requestId, 'req-503');
    assert.not.match(res.text, /storage-client|\.ts:|\.js:/);
    const line = own.logs.find((l) => l.requestId === 'req-503');
    assert.ok(line, 'the 5xx is logged with its request id');
    assert.is(line.level, 50);
    assert.is(line.status, 503);
    assert.ok((line.err as { stack?: string }).stack, 'the log keeps the stack');

    const health = await own.request('GET', '/health');
    assert.is(health.status, 503);
    assert.is(health.json.status, 'unavailable');
    assert.is(health.json.code, 'STORAGE_UNAVAILABLE');
    assert.equal(health.json.storage, { ok: false, code: 'STORAGE_UNAVAILABLE' });
    assert.is(health.json.pid, process.pid);
  } finally {
    await own.close();
  }
});

Security.run();
