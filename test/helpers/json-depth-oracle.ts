/**
 * The nesting depth of a parsed JSON value, computed the plainest way (an
 * explicit stack over the parsed value): the oracle the depth limits at the
 * edge are checked against. A scalar has depth 0, `[]` and `{}` depth 1.
 */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    max = Math.max(max, depth);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}
