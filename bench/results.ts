/** The raw results file (`bench/results/<timestamp>.json`): every measurement, then the summary. */
import type { LoopResult } from './closed-loop.js';
import type { LatencySummary } from './latency.js';
import type { BenchOptions } from './options.js';
import type { VariantName } from './variants/variant.js';

export interface RunRecord {
  rep: number;
  concurrency: number;
  n: number;
  variant: VariantName;
  /** position of this variant in its cell's (rotated) order within the repetition */
  order: number;
  loop: LoopResult;
  /** commit counters over the whole loop (warm-up and drain included), for variants that expose them */
  commits?: number;
  operations?: number;
  commitsPerOp?: number;
  /** mean duration of one commit as the storage worker times it */
  meanCommitMs?: number;
  /** mean milliseconds per commit in each phase, as the storage worker times them */
  phaseMsPerCommit?: Record<string, number>;
}

export interface FloorRecord {
  rep: number;
  concurrency: number;
  n: number;
  bytes: number;
  commits: number;
  /** medians of each step of one durable whole-document commit */
  medianMs: { total: number; stringify: number; write: number; fsync: number; rename: number; dirFsync: number };
  p99TotalMs: number;
}

export interface ReadRecord {
  n: number;
  variant: VariantName;
  name: string;
  latencyMs: LatencySummary;
}

export interface NoopRecord {
  variant: VariantName;
  name: string;
  latencyMs: LatencySummary;
}

/** median and range over repetitions */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface VariantSummary {
  opsPerSec: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  commitsPerOp?: Spread;
  meanCommitMs?: Spread;
  errors: number;
  firstError?: string;
}

export interface CellSummary {
  concurrency: number;
  n: number;
  floorCommitMs?: Spread;
  /** C / floor commit time, per repetition */
  idealOpsPerSec?: Spread;
  variants: Partial<Record<VariantName, VariantSummary>>;
  /** per-repetition ratios (both sides from the same repetition) */
  ratios: {
    clientVsSeed?: Spread;
    clientVsSqliteFull?: Spread;
    clientVsIdeal?: Spread;
    httpVsClient?: Spread;
    /** HTTP page saves against the same page saves through the client: the cost of the HTTP layer alone */
    httpVsClientSave?: Spread;
    httpVsSeed?: Spread;
  };
}

export interface TargetCheck {
  target: string;
  /** the measured value (a ratio, or milliseconds for read targets) */
  value: number;
  threshold: number;
  /** '>=' for rates and ratios, '<=' for latencies */
  comparison: '>=' | '<=';
  met: boolean;
}

export interface BenchMeta {
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  node: string;
  platform: string;
  kernel: string;
  cpuModel: string;
  cpuCount: number;
  totalMemGB: number;
  loadAvgAtStart: number[];
  options: BenchOptions;
  /** pretty-printed document size at the start, per N */
  documentBytes: Record<string, number>;
}

export interface BenchResults {
  meta: BenchMeta;
  runs: RunRecord[];
  floors: FloorRecord[];
  reads: ReadRecord[];
  noops: NoopRecord[];
  summary: CellSummary[];
  targets: TargetCheck[];
}
