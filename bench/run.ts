/**
 * `npm run bench`: mediastore (JSON files, and PostgreSQL: one and two
 * servers) side by side with the seed's hand-rolled JSON approach, SQLite (FULL and NORMAL) and the physical floor, in one run.
 * Every variant is loaded once per document size, then measured cell by cell,
 * repetition by repetition, in an order rotated each time so no variant
 * always runs first (cold) or right after a heavy one. Prints one table and
 * writes the raw results to bench/results/<timestamp>.json.
 *
 *   node dist/bench/run.js [--quick] [--cells 64x1000,…] [--variants …] [--reads 1000,…] [--out DIR]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureSequential, runClosedLoop } from './closed-loop.js';
import { median, summarize } from './latency.js';
import { parseOptions, type BenchOptions, type Cell } from './options.js';
import { checkTargets, render, summarizeCells } from './report.js';
import type { BenchResults, FloorRecord, NoopRecord, ReadRecord, RunRecord } from './results.js';
import { measureFloor } from './variants/floor.js';
import { SeedApproachVariant } from './variants/seed-approach.js';
import { SqliteVariant } from './variants/sqlite.js';
import type { Target, Variant, VariantName } from './variants/variant.js';
import { makeDataset, makeDocument, makeOpStream, type Dataset } from './workload.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** A slow system's first queue cycle may stretch the warm-up up to this long. */
const MAX_WARMUP_MS = 10_000;
const SETTLE_MS = 100;

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** The mediastore variants load server code, so they are imported only when selected. */
async function makeVariant(name: VariantName, scratch: string, opts: BenchOptions): Promise<Variant> {
  switch (name) {
    case 'seed-approach':
      return new SeedApproachVariant(join(scratch, 'seed'));
    case 'sqlite-full':
      return new SqliteVariant(join(scratch, 'sqlite'), 'FULL');
    case 'sqlite-normal':
      return new SqliteVariant(join(scratch, 'sqlite'), 'NORMAL');
    case 'mediastore-client': {
      const { MediastoreClientVariant } = await import('./variants/mediastore-client.js');
      return new MediastoreClientVariant(join(scratch, 'client-data'), 'setUsage');
    }
    case 'mediastore-client-save': {
      const { MediastoreClientVariant } = await import('./variants/mediastore-client.js');
      return new MediastoreClientVariant(join(scratch, 'client-save-data'), 'saveContent');
    }
    case 'mediastore-postgres':
    case 'two-servers-postgres': {
      const { MediastorePostgresVariant } = await import('./variants/mediastore-postgres.js');
      return new MediastorePostgresVariant(join(scratch, `${name}-blobs`), name === 'mediastore-postgres' ? 1 : 2);
    }
    case 'mediastore-http':
    case 'mediastore-http-postgres': {
      const { MediastoreHttpVariant } = await import('./variants/mediastore-http.js');
      const maxC = Math.max(...opts.cells.map((c) => c.concurrency));
      const backend = name === 'mediastore-http' ? 'files' : 'postgres';
      return new MediastoreHttpVariant(join(scratch, `${name}-data`), join(repoRoot, 'dist', 'bin', 'mediastore.js'), maxC, backend);
    }
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length ? by % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function measureRun(
  variant: VariantName,
  target: Target,
  dataset: Dataset,
  cell: Cell,
  rep: number,
  order: number,
  opts: BenchOptions,
): Promise<RunRecord> {
  // The same operation sequence for every variant of one cell and repetition.
  const nextOp = makeOpStream(dataset, 1000 * rep + 7 * cell.concurrency + cell.n);
  const before = await target.counters?.();
  const loop = await runClosedLoop(nextOp, (op) => target.op(op), {
    concurrency: cell.concurrency,
    warmupMs: opts.warmupMs,
    maxWarmupMs: opts.quick ? opts.warmupMs : MAX_WARMUP_MS,
    durationMs: opts.durationMs,
  });
  const after = await target.counters?.();
  const record: RunRecord = { rep, concurrency: cell.concurrency, n: cell.n, variant, order, loop };
  if (before && after) {
    record.commits = after.commits - before.commits;
    record.operations = after.operations - before.operations;
    if (record.operations > 0) record.commitsPerOp = record.commits / record.operations;
    if (before.commitMsTotal !== undefined && after.commitMsTotal !== undefined && record.commits > 0) {
      record.meanCommitMs = (after.commitMsTotal - before.commitMsTotal) / record.commits;
    }
    if (before.phaseMsTotal && after.phaseMsTotal && record.commits > 0) {
      const phases: Record<string, number> = {};
      for (const [phase, total] of Object.entries(after.phaseMsTotal)) {
        phases[phase] = (total - (before.phaseMsTotal[phase] ?? 0)) / record.commits;
      }
      record.phaseMsPerCommit = phases;
    }
  }
  return record;
}

async function measureFloorRecord(scratch: string, dataset: Dataset, cell: Cell, rep: number, opts: BenchOptions): Promise<FloorRecord> {
  const samples = await measureFloor(join(scratch, 'floor'), makeDocument(dataset), {
    budgetMs: opts.probeBudgetMs,
    minCommits: opts.quick ? 3 : 10,
    maxCommits: 500,
  });
  const m = (pick: (s: (typeof samples)[number]) => number): number => median(samples.map(pick));
  return {
    rep,
    concurrency: cell.concurrency,
    n: cell.n,
    bytes: samples[0]?.bytes ?? 0,
    commits: samples.length,
    medianMs: {
      total: m((s) => s.totalMs),
      stringify: m((s) => s.stringifyMs),
      write: m((s) => s.writeMs),
      fsync: m((s) => s.fsyncMs),
      rename: m((s) => s.renameMs),
      dirFsync: m((s) => s.dirFsyncMs),
    },
    p99TotalMs: summarize(samples.map((s) => s.totalMs)).p99,
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const loadAvgAtStart = os.loadavg();
  const scratch = await mkdtemp(join(os.tmpdir(), 'mediastore-bench-'));
  const variants: Variant[] = [];
  const runs: RunRecord[] = [];
  const floors: FloorRecord[] = [];
  const reads: ReadRecord[] = [];
  const noops: NoopRecord[] = [];
  const documentBytes: Record<string, number> = {};

  try {
    const ns = [...new Set([...opts.cells.map((c) => c.n), ...opts.readNs])].sort((a, b) => a - b);
    const datasets = new Map(ns.map((n) => [n, makeDataset(n)] as const));
    for (const [n, dataset] of datasets) documentBytes[n] = Buffer.byteLength(JSON.stringify(makeDocument(dataset), null, 2));

    const targets = new Map<VariantName, Map<number, Target>>();
    for (const name of opts.variants) {
      progress(`preparing ${name} at N=${ns.join(', ')}`);
      const variant = await makeVariant(name, scratch, opts);
      variants.push(variant);
      targets.set(name, await variant.prepare([...datasets.values()]));
    }

    // 'floor' takes a turn in the rotation like a variant, so it is measured under the same conditions.
    const entries: Array<VariantName | 'floor'> = ['floor', ...opts.variants];
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const [ci, cell] of opts.cells.entries()) {
        const dataset = datasets.get(cell.n);
        if (!dataset) throw new Error(`no dataset for N=${cell.n}`);
        progress(`rep ${rep + 1}/${opts.reps} C=${cell.concurrency} N=${cell.n}`);
        for (const [order, entry] of rotate(entries, rep + ci).entries()) {
          if (entry === 'floor') {
            floors.push(await measureFloorRecord(scratch, dataset, cell, rep, opts));
          } else {
            const target = targets.get(entry)?.get(cell.n);
            if (!target) throw new Error(`${entry} has no target for N=${cell.n}`);
            const record = await measureRun(entry, target, dataset, cell, rep, order, opts);
            runs.push(record);
            if (record.loop.errors > 0) progress(`  ${entry}: ${record.loop.errors} errors, first: ${record.loop.firstError ?? ''}`);
          }
          await new Promise((r) => setTimeout(r, SETTLE_MS));
        }
      }
    }

    for (const n of opts.readNs) {
      for (const name of opts.variants) {
        for (const [readName, call] of Object.entries(targets.get(name)?.get(n)?.reads ?? {})) {
          progress(`read N=${n} ${name} ${readName}`);
          const latencyMs = await measureSequential(call, { budgetMs: opts.probeBudgetMs, maxSamples: 5000 });
          reads.push({ n, variant: name, name: readName, latencyMs });
        }
      }
    }
    for (const variant of variants) {
      if (!variant.noop) continue;
      const latencyMs = await measureSequential(variant.noop.call, { budgetMs: opts.probeBudgetMs, maxSamples: 20000, warmup: 100 });
      noops.push({ variant: variant.name, name: variant.noop.name, latencyMs });
    }
  } finally {
    for (const variant of variants) {
      await variant.close().catch((err: unknown) => progress(`closing ${variant.name} failed: ${String(err)}`));
    }
    await rm(scratch, { recursive: true, force: true, maxRetries: 3 });
  }

  const finishedAt = new Date();
  const summary = summarizeCells(opts.cells, runs, floors);
  const results: BenchResults = {
    meta: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      kernel: os.release(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cpuCount: os.cpus().length,
      totalMemGB: Math.round(os.totalmem() / 2 ** 30),
      loadAvgAtStart,
      options: opts,
      documentBytes,
    },
    runs,
    floors,
    reads,
    noops,
    summary,
    targets: checkTargets(summary, reads),
  };

  const outDir = opts.outDir ?? join(repoRoot, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(results, null, 2));
  process.stdout.write(`${render(results)}\n\nraw results: ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
