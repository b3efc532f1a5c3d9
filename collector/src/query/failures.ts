// Failure points of a window: origins aggregated by (service, operation, reason), ranked by count.
import type { FailureOrigin, FailurePoint, FailureReason } from '@meshlet/wire';
import { BUCKET_MS, KEY_SEP } from '../analysis/contribution.ts';
import { addInto, type Counters, label, map, n } from '../analysis/merge.ts';
import type { TraceReader } from '../store/store.ts';
import type { Window } from './params.ts';

/** A sparkline has at most this many buckets. */
const MAX_SERIES_BUCKETS = 30;
const EXAMPLES = 5;

export interface FailureFilter {
  service?: string;
  reason?: string;
  /** Only these point ids. */
  ids?: ReadonlySet<string>;
  limit?: number;
}

export function buildFailures(reader: TraceReader, w: Window, filter: FailureFilter = {}): FailurePoint[] {
  const start = Math.floor(w.from / BUCKET_MS) * BUCKET_MS;
  const seriesBucketMs = Math.max(BUCKET_MS, Math.ceil((w.to - start) / MAX_SERIES_BUCKETS / BUCKET_MS) * BUCKET_MS);
  const buckets = Math.max(1, Math.ceil((w.to - start) / seriesBucketMs));
  const points = new Map<string, { data: Counters; counts: number[] }>();
  for (const row of reader.aggregates('point', start, w.to, w.run)) {
    if (filter.ids !== undefined && !filter.ids.has(row.key)) continue;
    if (filter.service !== undefined && row.data.service !== filter.service) continue;
    if (filter.reason !== undefined && row.data.reason !== filter.reason) continue;
    let p = points.get(row.key);
    if (p === undefined) points.set(row.key, (p = { data: {}, counts: new Array<number>(buckets).fill(0) }));
    addInto(p.data, row.data);
    const i = Math.min(buckets - 1, Math.max(0, Math.floor((row.bucketMs - start) / seriesBucketMs)));
    p.counts[i] = (p.counts[i] as number) + n(row.data, 'count');
  }
  const ranked = [...points.entries()]
    .filter(([, p]) => n(p.data, 'count') > 0)
    .sort((a, b) => n(b[1].data, 'count') - n(a[1].data, 'count') || a[0].localeCompare(b[0]))
    .slice(0, filter.limit ?? 50);
  return ranked.map(([id, { data, counts }]) => {
    const service = label(data, 'service');
    const operation = label(data, 'operation');
    const reason = label(data, 'reason') as FailureReason;
    const examples = reader.origins(service, operation, reason, start, w.to, EXAMPLES, w.run);
    const entries = Object.entries(map(data, 'entries'))
      .map(([key, count]) => {
        const [s, ...op] = key.split(KEY_SEP);
        return { service: s as string, operation: op.join(KEY_SEP), count };
      })
      .sort((a, b) => b.count - a.count);
    const propagatedBy = Object.entries(map(data, 'propagatedBy')).sort((a, b) => b[1] - a[1]).map(([s]) => s);
    return {
      id,
      service,
      operation,
      reason,
      origin: label(data, 'origin') as FailureOrigin,
      count: n(data, 'count'),
      firstSeenMs: n(data, 'firstMs'),
      lastSeenMs: n(data, 'lastMs'),
      series: { bucketMs: seriesBucketMs, counts },
      exampleTraceIds: examples.map((e) => e.traceId),
      entryOperations: entries,
      propagatedBy,
      message: examples[0]?.message ?? '',
    };
  });
}
