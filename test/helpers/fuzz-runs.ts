/**
 * How many cases a fuzz property runs: a small default keeps the default
 * suite to a few seconds per file; `FUZZ_RUNS=<n>` asks for a longer run.
 */
export function fuzzRuns(defaultRuns: number): number {
  const asked = Number(process.env.FUZZ_RUNS);
  return Number.isSafeInteger(asked) && asked > 0 ? asked : defaultRuns;
}
