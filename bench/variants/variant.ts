/**
 * What every benchmarked system looks like to the driver: loaded once with
 * every document size it will be measured at, then asked to run single
 * operations from a closed loop.
 */
import type { Dataset, UsageOp } from '../workload.js';

export type VariantName =
  | 'mediastore-client'
  | 'mediastore-client-save'
  | 'mediastore-http'
  | 'mediastore-http-postgres'
  | 'mediastore-postgres'
  | 'two-servers-postgres'
  | 'seed-approach'
  | 'sqlite-full'
  | 'sqlite-normal';

/** Commit counters of a variant that batches (mediastore): read before and after a measurement. */
export interface CommitCounters {
  commits: number;
  operations: number;
  /** sum of commit durations as the worker times them (ms), when known */
  commitMsTotal?: number;
  /** sum of milliseconds spent in each commit phase (lock, fresh, apply, write, …), when known */
  phaseMsTotal?: Record<string, number>;
}

/** One system loaded with one dataset, ready to take operations. */
export interface Target {
  /** Save one page's usage (usage-replace); resolves when the system acknowledges it. */
  op(op: UsageOp): Promise<void>;
  /** Cumulative commit counters, when the system exposes them (undefined when it cannot tell). */
  counters?(): Promise<CommitCounters | undefined>;
  /** Named read calls whose latency the bench reports (list media, get usage, …). */
  reads?: Record<string, () => Promise<unknown>>;
}

export interface Variant {
  readonly name: VariantName;
  /** Load each dataset (N records, every page's initial usage) into a fresh store; keyed by N. */
  prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>>;
  /** A call that does no storage work, timed as the transport's round trip. */
  noop?: { name: string; call(): Promise<unknown> };
  /** Releases everything: stores, workers, server processes, files. */
  close(): Promise<void>;
}
