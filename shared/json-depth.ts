/**
 * How deeply JSON may nest, for every way content gets in: the HTTP edge
 * (scanning the raw body), the typed storage client (before the structured
 * clone to the worker, which recurses and overflows the stack somewhere
 * between 1,000 and 5,000 levels) and the worker's content serialiser.
 *
 * 64 is far above what the editor writes (a page is about 6 levels deep:
 * page → widgets → widget → blocks → block → settings) and low enough that
 * pretty-printing cannot multiply a body by more than ~130 (two spaces of
 * indentation per level on every line).
 */
import { StorageError } from './errors.js';

export const MAX_JSON_DEPTH = 64;

/** The one refusal for content nested too deeply, wherever it is caught (400 at the HTTP edge). */
export function tooDeepError(maxDepth: number = MAX_JSON_DEPTH): StorageError {
  return new StorageError('TOO_DEEP', `Content nests deeper than ${maxDepth} levels`, { maxDepth });
}

/**
 * Whether `value` nests objects/arrays more than `maxDepth` levels (`{}` is
 * depth 1, a scalar 0). An explicit stack, never recursion, so any depth can
 * be measured; it stops at the first path that goes too deep. A cycle is
 * infinitely deep. A sub-object shared by many parents is walked again only
 * when reached at a greater depth than before, so a heavily shared value
 * cannot make the walk exponential.
 */
export function exceedsJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const deepestSeen = new Map<object, number>();
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    const before = deepestSeen.get(node);
    if (before !== undefined && before >= depth) continue;
    deepestSeen.set(node, depth);
    for (const child of childrenOf(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** What a structured clone descends into: own values, and the entries of a Map or Set. */
function childrenOf(node: object): Iterable<unknown> {
  if (ArrayBuffer.isView(node) || node instanceof ArrayBuffer) return [];
  if (node instanceof Map) return [...node.keys(), ...node.values()];
  if (node instanceof Set) return node.values();
  return Object.values(node);
}
