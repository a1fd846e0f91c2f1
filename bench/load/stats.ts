/** Percentiles of a sample, nearest-rank, as every table of `bun run bench` prints them. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = values.toSorted((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
  return { p50: at(50), p95: at(95), p99: at(99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
}
