/**
 * How hard the model tests try, from the environment. The defaults keep each
 * test file well under a minute inside `npm test`; a longer run (`npm run
 * proof`) raises MODEL_RUNS and MODEL_COMMANDS.
 *
 *   MODEL_RUNS           fast-check runs per property (default 40)
 *   MODEL_COMMANDS       most commands per run (default 25)
 *   MODEL_EDITOR_SHAPES  0 leaves out initial libraries written by the editor (default 1)
 *   MODEL_SEED           replay a reported seed (with MODEL_PATH, the reported path)
 *   MODEL_TIME_LIMIT_MS  stop generating new runs (and shrinking) after this long (default 15000)
 */
import fc from 'fast-check';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

export const MODEL_RUNS = intFromEnv('MODEL_RUNS', 40);
export const MODEL_COMMANDS = intFromEnv('MODEL_COMMANDS', 25);
export const MODEL_EDITOR_SHAPES = process.env.MODEL_EDITOR_SHAPES !== '0';
const TIME_LIMIT_MS = intFromEnv('MODEL_TIME_LIMIT_MS', 15_000);

/** fast-check parameters shared by every model property. */
export function checkParameters<T>(runs = MODEL_RUNS): fc.Parameters<T> {
  const params: fc.Parameters<T> = { numRuns: runs, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false };
  if (process.env.MODEL_SEED) params.seed = Number(process.env.MODEL_SEED);
  if (process.env.MODEL_PATH) params.path = process.env.MODEL_PATH;
  return params;
}

/**
 * Checks a property and, on failure, throws one readable error: what broke
 * (the first difference, from the shrunk run), the shrunk counterexample,
 * and how to replay it.
 */
export async function assertModel<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const details = await fc.check(property, params);
  if (!details.failed) return;
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    [
      cause,
      `shrunk counterexample (${details.numShrinks} shrinks): ${JSON.stringify(details.counterexample)}`,
      `replay: MODEL_SEED=${details.seed} MODEL_PATH=${details.counterexamplePath ?? ''}`,
    ].join('\n'),
  );
}

/** What a property did, for the report line each test prints. */
export class RunTally {
  runs = 0;
  commands = 0;
  private readonly started = performance.now();

  line(label: string): string {
    return `# model ${label}: ${this.runs} runs (shrinking included), ${this.commands} commands, ${((performance.now() - this.started) / 1000).toFixed(1)} s, editor shapes ${MODEL_EDITOR_SHAPES ? 'on' : 'off'}`;
  }
}
