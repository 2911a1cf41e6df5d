/**
 * The saved form of content: byte for byte `JSON.stringify(content, null, 2)`
 * (the editor's own files are pretty-printed), but produced with an explicit
 * stack and inside a byte budget, because the native call has neither bound:
 *
 * - it recurses, so content nested a few thousand levels overflows the stack
 *   (a RangeError that used to surface as a 500);
 * - pretty-printing indents every line by its depth, so deeply nested arrays
 *   multiply their size: 2 KB of `[[[…]]]` 1,000 deep prints as 2 MB, and a
 *   200 KB body cost the worker +439 MB before the size check ran on the
 *   finished string.
 *
 * Here nesting past `maxDepth` fails with `TOO_DEEP` as soon as it is reached,
 * and output past `maxBytes` fails with `CONTENT_TOO_LARGE` as soon as it is
 * written: memory stays within about twice the cap whatever the input.
 */
import { StorageError } from '../shared/errors.js';
import { MAX_JSON_DEPTH, tooDeepError } from '../shared/json-depth.js';

/** One open array or object: where the walk is inside it. */
interface Frame {
  readonly value: object;
  /** own enumerable string keys of an object; null for an array */
  readonly keys: readonly string[] | null;
  readonly length: number;
  /** indentation of the lines inside, and of the closing bracket */
  readonly inner: string;
  readonly outer: string;
  index: number;
  wrote: boolean;
}

export function prettyJsonWithin(content: unknown, maxBytes: number, maxDepth: number = MAX_JSON_DEPTH): string {
  const out = new BoundedOutput(maxBytes);
  const top = toJsonValue(content, '');
  if (top === undefined) throw new StorageError('INVALID_INPUT', 'Expected content to be a JSON value');

  const stack: Frame[] = [];
  // Objects on the current path: JSON cannot express a cycle (JSON.stringify throws).
  const ancestors = new Set<object>();
  const indents = [''];
  const indent = (depth: number): string => (indents[depth] ??= '  '.repeat(depth));

  const emit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) {
      out.write(scalarText(value));
      return;
    }
    const depth = stack.length + 1;
    if (depth > maxDepth) throw tooDeepError(maxDepth);
    if (ancestors.has(value)) throw new StorageError('INVALID_INPUT', 'Content is not serialisable as JSON: it contains a cycle');
    ancestors.add(value);
    const isArray = Array.isArray(value);
    const keys = isArray ? null : Object.keys(value);
    stack.push({
      value,
      keys,
      length: keys === null ? (value as unknown[]).length : keys.length,
      inner: indent(depth),
      outer: indent(depth - 1),
      index: 0,
      wrote: false,
    });
    out.write(isArray ? '[' : '{');
  };

  emit(top);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.index >= frame.length) {
      const close = frame.keys === null ? ']' : '}';
      out.write(frame.wrote ? `\n${frame.outer}${close}` : close);
      stack.pop();
      ancestors.delete(frame.value);
      continue;
    }
    const i = frame.index++;
    const key = frame.keys === null ? String(i) : frame.keys[i]!;
    let value = toJsonValue((frame.value as Record<string, unknown>)[key], key);
    if (value === undefined) {
      // As JSON.stringify: a member without a JSON value is left out of an
      // object and written as null in an array.
      if (frame.keys !== null) continue;
      value = null;
    }
    // One write per member (separator, indentation, key): the writes, not
    // the walk, are what this costs next to the native call.
    const lead = frame.wrote ? `,\n${frame.inner}` : `\n${frame.inner}`;
    out.write(frame.keys === null ? lead : `${lead}${JSON.stringify(key)}: `);
    frame.wrote = true;
    emit(value);
  }
  return out.finish();
}

/**
 * The value JSON.stringify would serialise for `value` (ECMA-262
 * SerializeJSONProperty): `toJSON` applied (a Date becomes its ISO string),
 * boxed primitives unboxed; undefined when it has no JSON form (undefined,
 * functions, symbols).
 */
function toJsonValue(value: unknown, key: string): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = (toJSON as (k: string) => unknown).call(value, key);
  }
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Number) return Number(value);
    if (value instanceof String) return String(value);
    if (value instanceof Boolean) return value.valueOf();
    if (value instanceof BigInt) return value.valueOf();
  }
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  return value;
}

function scalarText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new StorageError('INVALID_INPUT', 'Content is not serialisable as JSON: it contains a BigInt');
    default:
      return 'null';
  }
}

/**
 * Text is gathered in small pieces and set aside in chunks of about 16 K
 * characters, each counted in UTF-8 bytes as it is set aside (counting
 * flattens the chunk, so the pieces it was built from can be collected).
 * One join at the end: no encode/decode round trip through a buffer.
 */
const CHUNK_CHARS = 16 * 1024;

class BoundedOutput {
  private readonly chunks: string[] = [];
  private bytes = 0;
  private pending = '';

  constructor(private readonly maxBytes: number) {}

  write(text: string): void {
    this.pending += text;
    // A string's UTF-16 length never exceeds its UTF-8 byte length, so
    // passing the cap in characters already means passing it in bytes.
    if (this.bytes + this.pending.length > this.maxBytes) throw this.tooLarge();
    if (this.pending.length >= CHUNK_CHARS) this.setAside();
  }

  finish(): string {
    this.setAside();
    return this.chunks.join('');
  }

  private setAside(): void {
    if (this.pending === '') return;
    this.bytes += Buffer.byteLength(this.pending);
    if (this.bytes > this.maxBytes) throw this.tooLarge();
    this.chunks.push(this.pending);
    this.pending = '';
  }

  private tooLarge(): StorageError {
    return new StorageError('CONTENT_TOO_LARGE', `Content is larger than ${this.maxBytes} bytes when saved`, { maxBytes: this.maxBytes });
  }
}
