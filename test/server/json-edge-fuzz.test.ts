/**
 * Fuzzing the JSON edge against a real server on 127.0.0.1: random deep,
 * wide, tricky and invalid bodies sent to the content routes. Every answer
 * is a success or a coded 4xx, never a 5xx; the answer is the one expected
 * from an independent reading of the body (parsed depth, shape); a refusal
 * leaves the data tree byte for byte unchanged; a success reads back equal.
 * Runs: a modest number by default; FUZZ_RUNS=<n> for a longer run.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_JSON_DEPTH } from '../../shared/json-depth.js';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { depthOf } from '../helpers/json-depth-oracle.js';
import { hashTree, startServer, type TestServer } from './harness.js';

const Fuzz = suite('server json edge fuzz');

let server: TestServer;
const P = 'fuzz';

Fuzz.before(async () => {
  server = await startServer('json-fuzz');
  await server.createProject('Fuzz', P);
});

Fuzz.after(async () => {
  await server?.close();
});


type Expected = { status: 200 } | { status: 400; codes: string[] };

/** What the server must answer, read from the body independently of the server's code. */
function expected(body: Buffer): Expected {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // Nesting is measured before parsing, so a body both too deep and malformed may be either.
    return { status: 400, codes: ['INVALID_JSON', 'TOO_DEEP'] };
  }
  if (depthOf(parsed) > MAX_JSON_DEPTH) return { status: 400, codes: ['TOO_DEEP'] };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { status: 400, codes: ['INVALID_INPUT'] };
  return { status: 200 };
}

/** Nesting of a chosen depth, mixing arrays and objects, with something at the bottom. */
const nested = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: MAX_JSON_DEPTH + 3 }), fc.integer({ min: 1, max: 20_000 })),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    fc.jsonValue({ maxDepth: 1 }),
  )
  .map(([depth, kinds, bottom]) => {
    const open: string[] = [];
    const close: string[] = [];
    for (let i = 0; i < depth; i++) {
      const array = kinds[i % kinds.length]!;
      open.push(array ? '[' : `{"k${i % 3}":`);
      close.push(array ? ']' : '}');
    }
    return `{"page":${open.join('')}${JSON.stringify(bottom)}${close.reverse().join('')}}`;
  });

/** Strings whose brackets, quotes and backslashes must not count as nesting. */
const trickyText = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'x', 'é', '\n'), maxLength: 300 });

const validBody = fc.oneof(
  nested,
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }).map((v) => JSON.stringify(v)),
  fc.tuple(trickyText, nested).map(([text, deep]) => `{"html":${JSON.stringify(text)},"deep":${deep}}`),
);

const invalidBody = fc.oneof(
  fc.tuple(validBody, fc.nat()).map(([body, at]) => body.slice(0, at % Math.max(1, body.length))),
  fc.tuple(validBody, fc.nat(), fc.constantFrom('[', '{', '"', '\\', ']', '}', ',', ':', '\u0000', 'NaN')).map(
    ([body, at, token]) => body.slice(0, at % (body.length + 1)) + token + body.slice(at % (body.length + 1)),
  ),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.integer({ min: MAX_JSON_DEPTH + 1, max: 50_000 }).map((n) => `{"a":${'['.repeat(n)}`),
);

const request = fc.record({
  text: fc.oneof(validBody, invalidBody),
  route: fc.constantFrom('page-a', 'page-b', 'header', 'theme'),
});

function routeOf(route: string): { method: string; save: string; read: string } {
  if (route === 'header') return { method: 'POST', save: `/api/projects/${P}/global-widgets/header`, read: `/api/projects/${P}/global-widgets/header` };
  if (route === 'theme') return { method: 'PUT', save: `/api/projects/${P}/theme-settings`, read: `/api/projects/${P}/theme-settings` };
  return { method: 'POST', save: `/api/projects/${P}/pages/${route}/content`, read: `/api/projects/${P}/pages/${route}` };
}

Fuzz('random bodies: never a 5xx, always the expected answer, nothing changed by a refusal', async () => {
  const tally = { saved: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(request, async ({ text, route }) => {
      const body = Buffer.from(text, 'utf8');
      const { method, save, read } = routeOf(route);
      const want = expected(body);
      const before = await hashTree(server.dataDir);
      const res = await server.request(method, save, { headers: { 'content-type': 'application/json' }, body });
      assert.ok(res.status < 500, `${res.status} ${res.text.slice(0, 200)}`);
      if (want.status === 200) {
        assert.is(res.status, 200, res.text.slice(0, 300));
        const back = await server.request('GET', read);
        assert.equal(back.json, JSON.parse(body.toString('utf8')));
        tally.saved++;
        return;
      }
      assert.is(res.status, want.status, res.text.slice(0, 300));
      assert.ok(want.codes.includes(String(res.json.code)), `code ${String(res.json.code)}, expected one of ${want.codes.join(', ')}`);
      assert.type(res.json.error, 'string');
      assert.is(await hashTree(server.dataDir), before, 'a refused body changed the data tree');
      tally.refused++;
    }),
    { numRuns: fuzzRuns(150) },
  );
  assert.ok(tally.saved > 0 && tally.refused > 0, JSON.stringify(tally));
});

Fuzz.run();
