/**
 * The module specifiers a TypeScript source imports or re-exports: static
 * `import … from`, side-effect `import '…'`, `export … from` and dynamic
 * `import('…')`, type-only imports included (they couple to a module just
 * the same). Comments are removed first, so an import quoted in a comment
 * does not count; a path in a string (piscina's worker entry URL) is not an
 * import and does not count either.
 */
const COMMENTS = /\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g;
const FROM = /(?:^|[;\n}])\s*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/g;
const SIDE_EFFECT = /(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importSpecifiers(source: string): string[] {
  const code = source.replace(COMMENTS, (_, before: string | undefined) => before ?? '');
  const found: string[] = [];
  for (const pattern of [FROM, SIDE_EFFECT, DYNAMIC]) {
    for (const m of code.matchAll(pattern)) found.push(m[1]!);
  }
  return found;
}
