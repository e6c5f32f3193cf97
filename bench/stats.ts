/** Latency percentiles in microseconds. */
export interface Latency {
  p50: number;
  p99: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function summarize(samplesUs: number[]): Latency {
  samplesUs.sort((a, b) => a - b);
  return { p50: percentile(samplesUs, 50), p99: percentile(samplesUs, 99) };
}

const elapsedUs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1000;

/** Times each call of `fn(i)` on its own, after `warmup` untimed calls (JIT, SQLite page cache). */
export function sampleSync(fn: (i: number) => unknown, iterations: number, warmup: number): Latency {
  for (let i = 0; i < warmup; i++) fn(i);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    samples.push(elapsedUs(start));
  }
  return summarize(samples);
}

/** Like `sampleSync`, one awaited call at a time (no concurrency: this is latency, not throughput). */
export async function sampleAsync(fn: (i: number) => Promise<unknown>, iterations: number, warmup: number): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    samples.push(elapsedUs(start));
  }
  return summarize(samples);
}

/** Seconds taken by `fn`. */
export function timeSeconds(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return elapsedUs(start) / 1e6;
}
