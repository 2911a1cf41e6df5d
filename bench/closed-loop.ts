/**
 * A closed-loop load generator: C workers, each issuing its next operation as
 * soon as the previous one is acknowledged, so exactly C operations are in
 * flight. Throughput and latency count only operations that complete inside
 * the measured window (after a warm-up that lets queues and JITs settle).
 */
import { summarize, type LatencySummary } from './latency.js';

export interface LoopOptions {
  concurrency: number;
  /** minimum warm-up before the window opens */
  warmupMs: number;
  /**
   * The window also waits until every worker has had one operation
   * acknowledged, so a slow system's queue is full before latency counts
   * (otherwise the first window sees only short, not-yet-queued waits); this
   * caps that extra wait.
   */
  maxWarmupMs: number;
  durationMs: number;
}

export interface LoopResult {
  concurrency: number;
  /** operations completed inside the window */
  ops: number;
  /** operations that failed anywhere in the run (warm-up included) */
  errors: number;
  firstError?: string;
  warmupMs: number;
  windowMs: number;
  opsPerSec: number;
  latencyMs: LatencySummary;
}

export async function runClosedLoop<Op>(
  nextOp: () => Op,
  run: (op: Op) => Promise<void>,
  opts: LoopOptions,
): Promise<LoopResult> {
  const start = performance.now();
  const earliestWindow = start + opts.warmupMs;
  const latestWindow = start + Math.max(opts.warmupMs, opts.maxWarmupMs);
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let workersAcknowledged = 0;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;

  const openWindowIfDue = (now: number): void => {
    if (windowStart !== Infinity) return;
    if ((now >= earliestWindow && workersAcknowledged === opts.concurrency) || now >= latestWindow) {
      windowStart = now;
      windowEnd = now + opts.durationMs;
    }
  };

  const worker = async (): Promise<void> => {
    let acknowledged = false;
    for (;;) {
      const now = performance.now();
      openWindowIfDue(now);
      if (now >= windowEnd) return;
      const op = nextOp();
      const t0 = now;
      try {
        await run(op);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        // A failing system must not turn the loop into a busy spin on 2 shared cores.
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const t1 = performance.now();
      if (!acknowledged) {
        acknowledged = true;
        workersAcknowledged++;
      }
      if (t1 > windowStart && t1 <= windowEnd) latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));

  const result: LoopResult = {
    concurrency: opts.concurrency,
    ops: latencies.length,
    errors,
    warmupMs: windowStart - start,
    windowMs: opts.durationMs,
    opsPerSec: (latencies.length * 1000) / opts.durationMs,
    latencyMs: summarize(latencies),
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

/** Sequential latency of one call: up to `maxSamples` calls within about `budgetMs`, after a few warm-up calls. */
export async function measureSequential(
  call: () => Promise<unknown>,
  opts: { budgetMs: number; maxSamples: number; warmup?: number },
): Promise<LatencySummary> {
  for (let i = 0; i < (opts.warmup ?? 5); i++) await call();
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < opts.maxSamples && (samples.length < 3 || performance.now() - started < opts.budgetMs)) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}
