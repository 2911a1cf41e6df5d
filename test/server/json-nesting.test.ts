/**
 * The byte scanner that measures JSON nesting before parsing: for any JSON
 * text it agrees with the depth of the parsed value, however the bytes are
 * split into chunks (string and escape state carries across chunks).
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonNestingScanner } from '../../server/http/json-nesting.js';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { depthOf } from '../helpers/json-depth-oracle.js';

const N = suite('json-nesting');


function scan(bytes: Buffer, cuts: number[], maxDepth: number): boolean {
  const scanner = new JsonNestingScanner(maxDepth);
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
    if (!scanner.feed(bytes.subarray(at, Math.max(at, cut)))) return false;
    at = Math.max(at, cut);
  }
  return true;
}

/** JSON values with strings full of brackets, quotes and backslashes. */
const tricky = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '\u0000') }),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ unit: fc.constantFrom('[', '"', '\\', 'k'), maxLength: 4 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

N('agrees with the parsed depth for any JSON, in any chunking', () => {
  fc.assert(
    fc.property(tricky, fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 0, max: 8 }), (value, cuts, maxDepth) => {
      const bytes = Buffer.from(JSON.stringify(value));
      assert.is(scan(bytes, cuts, maxDepth), depthOf(value) <= maxDepth);
    }),
    { numRuns: fuzzRuns(1000) },
  );
});

N('an escaped backslash before a closing quote ends the string', () => {
  const bytes = Buffer.from('{"a":"\\\\","b":[[1]]}');
  assert.ok(scan(bytes, [], 3));
  assert.not.ok(scan(bytes, [], 2));
  assert.not.ok(scan(bytes, [7, 8], 2));
});

N('closing brackets with nothing open do not buy depth', () => {
  assert.not.ok(scan(Buffer.from(`${']'.repeat(10)}${'['.repeat(5)}`), [], 4));
});

N.run();
