// What one analysed trace adds to the aggregates (graph nodes and edges, failure points, load-test runs),
// per time bucket. A trace's contribution is stored with it, so re-analysing the trace after late spans
// subtracts the old contribution and adds the new one.
import { SPAN_KIND } from '../otlp/model.ts';
import type { TraceAnalysis } from './analyse-trace.ts';
import type { SpanFacts } from './facts.ts';
import { type Histogram, record } from './histogram.ts';
import type { Counters } from './merge.ts';

/** Width of an aggregate bucket: graph and failure statistics are kept per 10 s. */
export const BUCKET_MS = 10_000;
/** Load-test runs are kept per second. */
export const RUN_BUCKET_MS = 1_000;

/** Separator inside composite keys (entry operations): a tab never appears in service names. */
export const KEY_SEP = '\t';

export interface TraceContribution {
  bucketMs: number;
  /** Load-test run id, `''` when none. */
  run: string;
  nodes: Record<string, Counters>;
  edges: Record<string, Counters>;
  points: Record<string, Counters>;
  /** Per-second load-test statistics (requests = traces of the run). */
  runSecond: { tMs: number; data: Counters } | null;
}

export const edgeId = (from: string, to: string): string => `${from}->${to}`;
export const pointId = (service: string, operation: string, reason: string): string => `${service}|${operation}|${reason}`;

function inc(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** Computes the contribution of an analysed trace. */
export function contributionOf(a: TraceAnalysis, spans: SpanFacts[]): TraceContribution {
  const bucketMs = Math.floor(a.startMs / BUCKET_MS) * BUCKET_MS;
  const nodes: Record<string, Counters> = {};
  const node = (service: string): Counters => (nodes[service] ??= { service });
  const ids = new Set(spans.map((s) => s.spanId));

  for (const s of spans) {
    if (s.kind !== SPAN_KIND.server) continue;
    const n = node(s.service);
    n.requests = (n.requests as number | undefined ?? 0) + 1;
    if (s.failed) n.errors = (n.errors as number | undefined ?? 0) + 1;
    if (s.parentSpanId === '' || !ids.has(s.parentSpanId)) n.entry = (n.entry as number | undefined ?? 0) + 1;
    record((n.hist ??= {}) as Histogram, s.durationMs);
    if (s.version !== undefined) inc((n.versions ??= {}) as Record<string, number>, s.version);
  }
  for (const service of a.dropsContext) node(service).dropsContext = 1;

  const points: Record<string, Counters> = {};
  for (const o of a.origins) {
    const on = node(o.service);
    on.originFailures = (on.originFailures as number | undefined ?? 0) + 1;
    for (const p of o.propagatedBy) {
      const pn = node(p);
      pn.propagatedFailures = (pn.propagatedFailures as number | undefined ?? 0) + 1;
    }
    const id = pointId(o.service, o.operation, o.reason);
    const p = (points[id] ??= { service: o.service, operation: o.operation, reason: o.reason, origin: o.origin, count: 0, entries: {}, propagatedBy: {} });
    p.count = (p.count as number) + 1;
    inc(p.entries as Record<string, number>, `${o.entryService}${KEY_SEP}${o.entryOperation}`);
    for (const s of o.propagatedBy) inc(p.propagatedBy as Record<string, number>, s);
    p.firstMs = Math.min((p.firstMs as number | undefined) ?? Infinity, Math.floor(o.timeMs));
    p.lastMs = Math.max((p.lastMs as number | undefined) ?? -Infinity, Math.floor(o.timeMs));
  }
  for (const p of Object.values(points)) {
    if (Object.keys(p.propagatedBy as object).length === 0) delete p.propagatedBy;
  }

  const edges: Record<string, Counters> = {};
  for (const c of a.calls) {
    const e = (edges[edgeId(c.from, c.to)] ??= { from: c.from, to: c.to });
    e.requests = (e.requests as number | undefined ?? 0) + 1;
    if (c.failed) e.errors = (e.errors as number | undefined ?? 0) + 1;
    if (c.retries > 0) e.retries = (e.retries as number | undefined ?? 0) + c.retries;
    if (c.recovered) e.recovered = (e.recovered as number | undefined ?? 0) + 1;
    if (c.originAtCallee) e.originFailures = (e.originFailures as number | undefined ?? 0) + 1;
    record((e.hist ??= {}) as Histogram, c.durationMs);
    if (c.version !== undefined) inc((e.versions ??= {}) as Record<string, number>, c.version);
    for (const r of c.reasons) inc((e.reasons ??= {}) as Record<string, number>, r);
  }

  let runSecond: TraceContribution['runSecond'] = null;
  if (a.run !== undefined) {
    const data: Counters = { requests: 1, hist: {}, firstMs: Math.floor(a.startMs), lastMs: Math.ceil(a.startMs + a.durationMs) };
    record(data.hist as Histogram, a.durationMs);
    if (a.status === 'error') {
      data.errors = 1;
      const reasons: Record<string, number> = {};
      for (const o of a.origins) inc(reasons, o.reason);
      data.reasons = reasons;
    }
    runSecond = { tMs: Math.floor(a.startMs / RUN_BUCKET_MS) * RUN_BUCKET_MS, data };
  }

  return { bucketMs, run: a.run ?? '', nodes, edges, points, runSecond };
}
