/**
 * The worker's content serialisation (serializeContent): the same bytes as
 * JSON.stringify(content, null, 2) for everything JSON can express, and coded
 * refusals instead of a stack overflow (too deep) or an unbounded string
 * (pretty-printing that multiplies deep arrays past the cap).
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError, type StorageErrorCode } from '../../shared/errors.js';
import { MAX_JSON_DEPTH } from '../../shared/json-depth.js';
import { serializeContent } from '../../storage-worker/content-files.js';
import { fuzzRuns } from '../helpers/fuzz-runs.js';

const S = suite('content-serializer');

const CAP = 20 * 1024 * 1024;

function nestedArrays(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

function refusal(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof StorageError)) throw new Error(`expected a StorageError, got ${String(err)}`);
    return err;
  }
  assert.unreachable('expected a refusal');
  throw new Error('unreachable');
}

function assertCode(fn: () => unknown, code: StorageErrorCode): StorageError {
  const err = refusal(fn);
  assert.is(err.code, code, err.message);
  return err;
}

S('byte for byte JSON.stringify(content, null, 2) for any JSON value', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.is(serializeContent(value, CAP), JSON.stringify(value, null, 2));
    }),
    { numRuns: fuzzRuns(300) },
  );
});

S('the same as JSON.stringify for what a structured clone can carry (dates, boxed values, maps, sparse arrays, -0, undefined)', () => {
  const cloneable = fc.anything({
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    maxDepth: 6,
  });
  fc.assert(
    fc.property(cloneable, (value) => {
      const expected = JSON.stringify(value, null, 2) as string | undefined;
      if (expected === undefined) {
        assertCode(() => serializeContent(value, CAP), 'INVALID_INPUT');
        return;
      }
      assert.is(serializeContent(value, CAP), expected);
    }),
    { numRuns: fuzzRuns(300) },
  );
});

S('content nested 100,000 levels is TOO_DEEP, not a stack overflow', () => {
  const err = assertCode(() => serializeContent({ a: nestedArrays(100_000) }, CAP), 'TOO_DEEP');
  assert.is(err.details?.maxDepth, MAX_JSON_DEPTH);
});

S('the depth limit is exact: MAX_JSON_DEPTH levels save, one more is refused', () => {
  assert.is(serializeContent(nestedArrays(MAX_JSON_DEPTH), CAP), JSON.stringify(nestedArrays(MAX_JSON_DEPTH), null, 2));
  assertCode(() => serializeContent(nestedArrays(MAX_JSON_DEPTH + 1), CAP), 'TOO_DEEP');
  const deepObject = nestedArrays(MAX_JSON_DEPTH);
  assertCode(() => serializeContent({ wrapper: deepObject }, CAP), 'TOO_DEEP');
});

S('pretty-printing past the cap stops as soon as the cap is passed (CONTENT_TOO_LARGE), without reading the rest', () => {
  // Each element prints as ~8 KB (60 levels of indentation on 120 lines) from
  // 120 bytes of JSON. A getter counts how many elements the serialiser read:
  // the native call reads them all and builds the whole string first.
  const deep = nestedArrays(60);
  const elements = 10_000;
  let read = 0;
  const wide: unknown[] = [];
  for (let i = 0; i < elements; i++) {
    Object.defineProperty(wide, i, {
      enumerable: true,
      get() {
        read++;
        return deep;
      },
    });
  }
  const maxBytes = 1024 * 1024;
  const err = assertCode(() => serializeContent({ wide }, maxBytes), 'CONTENT_TOO_LARGE');
  assert.is(err.details?.maxBytes, maxBytes);
  assert.ok(read < elements / 10, `read ${read} of ${elements} elements before refusing`);
});

S('the byte cap counts UTF-8 bytes, not characters', () => {
  const text = 'é'.repeat(600); // 600 characters, 1,200 bytes
  const saved = serializeContent({ text }, 2000);
  assert.is(Buffer.byteLength(saved), Buffer.byteLength(JSON.stringify({ text }, null, 2)));
  assertCode(() => serializeContent({ text }, 1000), 'CONTENT_TOO_LARGE');
});

S('what JSON cannot hold is INVALID_INPUT: a cycle, a BigInt, no value at all', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = { back: cyclic };
  assertCode(() => serializeContent(cyclic, CAP), 'INVALID_INPUT');
  assertCode(() => serializeContent({ n: 10n }, CAP), 'INVALID_INPUT');
  assertCode(() => serializeContent(undefined, CAP), 'INVALID_INPUT');
  assertCode(() => serializeContent({ toJSON: () => undefined }, CAP), 'INVALID_INPUT');
  // A shared (not cyclic) sub-object is fine, as in JSON.stringify.
  const shared = { x: [1, 2] };
  assert.is(serializeContent({ a: shared, b: shared }, CAP), JSON.stringify({ a: shared, b: shared }, null, 2));
});

S.run();
