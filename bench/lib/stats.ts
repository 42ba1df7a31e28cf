/**
 * Timing and summary statistics for the benchmark. Latencies are milliseconds from `performance.now()`;
 * percentiles use the nearest-rank method on the sorted samples.
 */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    meanMs: round(sorted.length === 0 ? Number.NaN : sum / sorted.length, 2),
    maxMs: round(sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number), 2),
  };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface LoadResult {
  operations: number;
  /** Operations that threw (counted, not retried by the runner). */
  failures: number;
  elapsedMs: number;
  opsPerSecond: number;
  latency: LatencySummary;
  /** The first few failure messages, to say what went wrong. */
  failureSamples: string[];
  /** Every successful operation's latency (ms), for merging slices; left out of the JSON results. */
  latenciesMs?: number[];
}

/** One result out of several slices of the same measurement: operations and time add up, latencies pool. */
export function mergeLoads(results: readonly LoadResult[]): LoadResult {
  const operations = results.reduce((a, r) => a + r.operations, 0);
  const failures = results.reduce((a, r) => a + r.failures, 0);
  const elapsedMs = results.reduce((a, r) => a + r.elapsedMs, 0);
  const latenciesMs = results.flatMap((r) => r.latenciesMs ?? []);
  return {
    operations,
    failures,
    elapsedMs: round(elapsedMs, 1),
    opsPerSecond: round(((operations - failures) / elapsedMs) * 1000, 1),
    latency: summarize(latenciesMs),
    failureSamples: results.flatMap((r) => r.failureSamples).slice(0, 5),
    latenciesMs,
  };
}


/**
 * Runs `operations` calls of `op` with `concurrency` workers pulling from one shared counter, so every worker
 * stays busy until the work runs out. `op(i, worker)` gets the operation index and the worker number.
 */
export async function runLoad(
  operations: number,
  concurrency: number,
  op: (index: number, worker: number) => Promise<void>,
): Promise<LoadResult> {
  let next = 0;
  let failures = 0;
  const failureSamples: string[] = [];
  const latencies: number[] = [];
  const started = performance.now();
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= operations) return;
      const t0 = performance.now();
      try {
        await op(i, w);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failures += 1;
        if (failureSamples.length < 5) failureSamples.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - started;
  return {
    operations,
    failures,
    elapsedMs: round(elapsedMs, 1),
    opsPerSecond: round(((operations - failures) / elapsedMs) * 1000, 1),
    latency: summarize(latencies),
    failureSamples,
    latenciesMs: latencies,
  };
}
