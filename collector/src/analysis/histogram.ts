// A sparse log-linear latency histogram that can be added and subtracted (so a re-analysed trace can take
// its old contribution back). Bucket i holds durations in (GROWTH^(i-1), GROWTH^i] microseconds, so a
// percentile read from it is within 2 % of the true value.

/**
 * Bucket → count, keyed `b<index>`; a plain object so it stores as JSON and merges with `addInto`. The key
 * is not a bare integer on purpose: V8 backs integer keys with an array as long as the largest index, which
 * made every histogram allocate kilobytes.
 */
export type Histogram = Record<string, number>;

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

/** Bucket index of a duration in ms (durations below 1 µs share bucket 0). */
export function bucketOf(durationMs: number): number {
  const us = durationMs * 1000;
  if (!(us > 1)) return 0;
  return Math.ceil(Math.log(us) / LOG_GROWTH - 1e-9);
}

/** Upper bound of a bucket, in ms. */
export function bucketUpperMs(index: number): number {
  return index <= 0 ? 0.001 : GROWTH ** index / 1000;
}

export function record(h: Histogram, durationMs: number, count = 1): void {
  const key = `b${bucketOf(durationMs)}`;
  h[key] = (h[key] ?? 0) + count;
}

/** The value at quantile `q` (0..1), in ms; 0 for an empty histogram. */
export function quantileMs(h: Histogram, q: number): number {
  const entries = Object.keys(h).map((k) => [Number(k.slice(1)), h[k] as number] as const).filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  let total = 0;
  for (const [, c] of entries) total += c;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [index, c] of entries) {
    seen += c;
    if (seen >= rank) return round3(bucketUpperMs(index));
  }
  return round3(bucketUpperMs((entries.at(-1) as readonly [number, number])[0]));
}

/** p50/p90/p99 of a histogram, in ms. */
export function latencyStats(h: Histogram): { p50Ms: number; p90Ms: number; p99Ms: number } {
  return { p50Ms: quantileMs(h, 0.5), p90Ms: quantileMs(h, 0.9), p99Ms: quantileMs(h, 0.99) };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
