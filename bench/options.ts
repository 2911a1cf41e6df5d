/**
 * Command-line options of `npm run bench`. The defaults are the full run of
 * issue 5 (about 5–8 minutes on 2 cores); `--quick` is a smoke run that checks
 * the plumbing, not the numbers.
 */
import type { VariantName } from './variants/variant.js';

export const ALL_VARIANTS: readonly VariantName[] = [
  'mediastore-client',
  'mediastore-client-save',
  'mediastore-http',
  'mediastore-http-postgres',
  'mediastore-postgres',
  'two-servers-postgres',
  'seed-approach',
  'sqlite-full',
  'sqlite-normal',
];

export interface Cell {
  concurrency: number;
  n: number;
}

export interface BenchOptions {
  quick: boolean;
  reps: number;
  warmupMs: number;
  durationMs: number;
  cells: Cell[];
  variants: VariantName[];
  /** document sizes at which read latency is measured */
  readNs: number[];
  /** per-probe time budget for reads, pings and the floor */
  probeBudgetMs: number;
  outDir: string | undefined;
}

export const DEFAULT_CELLS: readonly Cell[] = [
  { concurrency: 1, n: 1000 },
  { concurrency: 3, n: 1000 },
  { concurrency: 64, n: 1000 },
  { concurrency: 256, n: 1000 },
  { concurrency: 64, n: 100 },
  { concurrency: 64, n: 10000 },
];

const USAGE = `usage: npm run bench -- [--quick] [--reps R] [--duration MS] [--warmup MS]
                          [--cells CxN,CxN…] [--variants a,b…] [--reads N,N…|none] [--out DIR]
variants: ${ALL_VARIANTS.join(', ')}`;

function fail(message: string): never {
  throw new Error(`${message}\n${USAGE}`);
}

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) fail(`Expected \`${flag}\` to be a positive integer, got ${String(value)}`);
  return n;
}

function parseCells(value: string | undefined): Cell[] {
  return (value ?? '').split(',').map((part) => {
    const m = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!m) fail(`Expected \`--cells\` to be a list like 64x1000 (C x N), got ${String(value)}`);
    return { concurrency: positiveInt('--cells', m[1]), n: positiveInt('--cells', m[2]) };
  });
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const opts: BenchOptions = {
    quick,
    reps: quick ? 1 : 3,
    warmupMs: quick ? 150 : 500,
    durationMs: quick ? 400 : 2500,
    cells: [...DEFAULT_CELLS],
    variants: [...ALL_VARIANTS],
    readNs: [1000, 10000],
    probeBudgetMs: quick ? 150 : 1000,
    outDir: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '--quick':
        break;
      case '--reps':
        opts.reps = positiveInt(flag, value());
        break;
      case '--duration':
        opts.durationMs = positiveInt(flag, value());
        break;
      case '--warmup':
        opts.warmupMs = positiveInt(flag, value());
        break;
      case '--cells':
        opts.cells = parseCells(value());
        break;
      case '--variants': {
        const names = (value() ?? '').split(',');
        for (const name of names) {
          if (!(ALL_VARIANTS as readonly string[]).includes(name)) fail(`Expected a variant name, got ${name}`);
        }
        opts.variants = names as VariantName[];
        break;
      }
      case '--reads': {
        const v = value();
        opts.readNs = v === 'none' ? [] : (v ?? '').split(',').map((s) => positiveInt(flag, s));
        break;
      }
      case '--out':
        opts.outDir = value() ?? fail('Expected `--out` to be a directory');
        break;
      default:
        fail(`Unknown option ${String(flag)}`);
    }
  }
  return opts;
}
