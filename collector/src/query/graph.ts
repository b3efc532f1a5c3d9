// The service graph of a time window, summed from the 10 s aggregate buckets.
import type { GraphEdge, GraphNode, GraphResponse, Health } from '@meshlet/wire';
import { BUCKET_MS } from '../analysis/contribution.ts';
import { type Histogram, latencyStats } from '../analysis/histogram.ts';
import { addInto, type Counters, label, map, n } from '../analysis/merge.ts';
import type { AggregateKind, TraceReader } from '../store/store.ts';
import type { Window } from './params.ts';

/** Error rate at or above which a node or edge is `failing`; above `DEGRADED_RATE` it is `degraded`. */
export const FAILING_RATE = 0.25;
export const DEGRADED_RATE = 0.01;

export function healthOf(requests: number, errors: number, originFailures = 0): Health {
  if (requests === 0) return 'idle';
  const rate = errors / requests;
  if (rate >= FAILING_RATE) return 'failing';
  if (rate >= DEGRADED_RATE || originFailures > 0) return 'degraded';
  return 'ok';
}

/** Sums aggregate rows of a window by key. Buckets are aligned: the first bucket overlapping `from` counts. */
export function sumByKey(reader: TraceReader, kind: AggregateKind, w: Window): Map<string, Counters> {
  const out = new Map<string, Counters>();
  const start = Math.floor(w.from / BUCKET_MS) * BUCKET_MS;
  for (const row of reader.aggregates(kind, start, w.to, w.run)) {
    let acc = out.get(row.key);
    if (acc === undefined) out.set(row.key, (acc = {}));
    addInto(acc, row.data);
  }
  return out;
}

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Builds the graph of a window. `podsOf` gives the number of pods the runtime reports for a service. */
export function buildGraph(reader: TraceReader, w: Window, podsOf: (service: string) => number = () => 0): GraphResponse {
  const seconds = Math.max(1, (w.to - w.from) / 1000);
  const nodeAgg = sumByKey(reader, 'node', w);
  const edgeAgg = sumByKey(reader, 'edge', w);

  const edges: GraphEdge[] = [];
  for (const [id, e] of edgeAgg) {
    const requests = n(e, 'requests');
    const errors = n(e, 'errors');
    const originFailures = n(e, 'originFailures');
    edges.push({
      id,
      from: label(e, 'from'),
      to: label(e, 'to'),
      versions: map(e, 'versions'),
      requests,
      ratePerSecond: round(requests / seconds),
      errors,
      errorRate: requests === 0 ? 0 : round(errors / requests),
      retries: n(e, 'retries'),
      recovered: n(e, 'recovered'),
      reasons: map(e, 'reasons'),
      health: healthOf(requests, errors, originFailures),
      originFailures,
      ...latencyStats(map(e, 'hist')),
    });
  }
  edges.sort((a, b) => a.id.localeCompare(b.id));

  const callers = new Set(edges.map((e) => e.to));
  const nodes = new Map<string, GraphNode>();
  for (const [service, a] of nodeAgg) {
    const requests = n(a, 'requests');
    const errors = n(a, 'errors');
    const originFailures = n(a, 'originFailures');
    nodes.set(service, {
      service,
      versions: Object.keys(map(a, 'versions')).sort(),
      entry: n(a, 'entry') > 0 || (requests > 0 && !callers.has(service)),
      requests,
      ratePerSecond: round(requests / seconds),
      errors,
      errorRate: requests === 0 ? 0 : round(errors / requests),
      originFailures,
      propagatedFailures: n(a, 'propagatedFailures'),
      health: healthOf(requests, errors, originFailures),
      dropsContext: n(a, 'dropsContext') > 0,
      pods: podsOf(service),
      ...latencyStats(map(a, 'hist')),
    });
  }
  // Services seen only as a callee (no spans of their own, e.g. outside the mesh) or only as a caller.
  for (const e of edges) {
    for (const service of [e.from, e.to]) {
      if (nodes.has(service)) continue;
      const incoming = edgeAgg.get(e.id);
      const asCallee = service === e.to;
      const hist: Counters = {};
      let requests = 0;
      let errors = 0;
      if (asCallee) {
        for (const [, x] of edgeAgg) {
          if (x.to !== service) continue;
          requests += n(x, 'requests');
          errors += n(x, 'errors');
          addInto(hist, map(x, 'hist'));
        }
      }
      nodes.set(service, {
        service,
        versions: asCallee ? Object.keys(map(incoming, 'versions')).sort() : [],
        entry: false,
        requests,
        ratePerSecond: round(requests / seconds),
        errors,
        errorRate: requests === 0 ? 0 : round(errors / requests),
        originFailures: 0,
        propagatedFailures: 0,
        health: healthOf(requests, errors),
        dropsContext: false,
        pods: podsOf(service),
        ...latencyStats(hist as Histogram),
      });
    }
  }
  return {
    window: { from: w.from, to: w.to },
    nodes: [...nodes.values()].sort((a, b) => a.service.localeCompare(b.service)),
    edges,
  };
}
