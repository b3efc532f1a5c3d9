// The sidecar's Prometheus metrics (prom-client), with bounded label values. Children for label
// combinations are cached by a flat key. The two per-request counts (requests_total, in-flight) are
// plain numbers on the request path and handed to prom-client when it is scraped (its `collect`
// hook): prom-client validates and hashes the labels on every inc(), ~1 µs a call.
//
// The classes come from their own modules, not from prom-client's index: the index also loads the
// Pushgateway (node:https with node:tls and node:crypto, node:zlib), the cluster aggregator
// (node:cluster) and Summary (tdigest), none of which a sidecar uses (proxy/README.md, "Start-up cost").
import type { Gauge as GaugeT, Registry as RegistryT } from 'prom-client';
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';
import { METRIC_PREFIX } from '@meshlet/wire';
import { LabelBudget } from './label-budget.ts';

const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RequestSample {
  direction: string;
  source: string;
  destination: string;
  route: string;
  status: number;
  reason: string;
  durationSeconds: number;
}

export interface Metrics {
  readonly registry: RegistryT;
  request(sample: RequestSample): void;
  inFlight(direction: string, delta: number): void;
  retry(destination: string, reason: string): void;
  retryBudgetExhausted(destination: string): void;
  ejection(destination: string): void;
  contextNotPropagated(destination: string): void;
  telemetryDropped(signal: 'spans' | 'logs', count: number): void;
  configApplied(revision: number): void;
  configRejected(): void;
  /** Gauges read at scrape time (budget use, ejected endpoints). */
  setCollect(fn: (gauges: { budgetUsed: GaugeT; ejected: GaugeT }) => void): void;
  render(): Promise<string>;
}

export interface MetricsOptions {
  maxRoutes: number;
  maxSources: number;
  defaultMetrics: boolean;
}

/** Creates the registry and every metric. */
export function createMetrics(options: MetricsOptions = { maxRoutes: 200, maxSources: 100, defaultMetrics: true }): Metrics {
  const registry = new Registry();
  const p = METRIC_PREFIX;
  if (options.defaultMetrics) {
    // Event-loop delay sampled every 100 ms, not prom-client's default 10 ms: that timer was the idle
    // sidecar's largest CPU cost (0.8 % of a core → 0.2 %, proxy/README.md "Built entry").
    collectDefaultMetrics({ register: registry, prefix: p, eventLoopMonitoringPrecision: 100 });
    // prom-client names a few gauges `*_total` (active handles...), which Prometheus conventions reserve
    // for counters (promtool flags them); those are dropped.
    for (const metric of registry.getMetricsAsArray()) {
      const type = (metric as unknown as { type?: string }).type;
      if (metric.name.endsWith('_total') && type !== 'counter') registry.removeSingleMetric(metric.name);
    }
  }
  /** Requests counted since the last scrape, per label combination. */
  const pendingRequests = new Map<string, { child: { inc(n: number): void }; n: number }>();
  const requests = new Counter({
    name: `${p}requests_total`,
    help: 'Requests handled by the sidecar, by direction, source and destination service, route, status and failure reason.',
    labelNames: ['direction', 'source', 'destination', 'route', 'status', 'reason'] as const,
    registers: [registry],
    collect() {
      for (const pending of pendingRequests.values()) {
        if (pending.n === 0) continue;
        pending.child.inc(pending.n);
        pending.n = 0;
      }
    },
  });
  const duration = new Histogram({
    name: `${p}request_duration_seconds`,
    help: 'Time from request arrival to the end of the response, in seconds.',
    labelNames: ['direction', 'source', 'destination', 'route'] as const,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  /** Requests in flight by direction, kept here and copied into the gauge at scrape time. */
  const inFlightNow = new Map<string, number>();
  new Gauge({
    name: `${p}requests_in_flight`,
    help: 'Requests being handled now.',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      for (const [direction, n] of inFlightNow) this.set({ direction }, n);
    },
  });
  const retries = new Counter({ name: `${p}retries_total`, help: 'Retries made, by destination and the failure retried.', labelNames: ['destination', 'reason'] as const, registers: [registry] });
  const budgetExhausted = new Counter({
    name: `${p}retry_budget_exhausted_total`,
    help: 'Retries not made because the retry budget was spent.',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const budgetUsed = new Gauge({
    name: `${p}retry_budget_used_ratio`,
    help: 'Retries in the budget window divided by the retries the budget allows (1 = exhausted).',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const ejections = new Counter({ name: `${p}outlier_ejections_total`, help: 'Endpoints ejected after consecutive failures.', labelNames: ['destination'] as const, registers: [registry] });
  const ejected = new Gauge({ name: `${p}endpoints_ejected`, help: 'Endpoints currently ejected.', labelNames: ['destination'] as const, registers: [registry] });
  const notPropagated = new Counter({
    name: `${p}context_not_propagated_total`,
    help: 'Outbound calls made while an inbound request was in flight that did not carry its trace context.',
    labelNames: ['destination'] as const,
    registers: [registry],
  });
  const dropped = new Counter({ name: `${p}telemetry_dropped_total`, help: 'Spans or log lines dropped (queue full, export failed).', labelNames: ['signal'] as const, registers: [registry] });
  const revision = new Gauge({ name: `${p}config_revision`, help: 'Revision of the config in force.', registers: [registry] });
  const rejected = new Counter({ name: `${p}config_rejected_total`, help: 'Configs rejected as invalid (the previous one was kept).', registers: [registry] });
  dropped.inc({ signal: 'spans' }, 0);
  dropped.inc({ signal: 'logs' }, 0);
  rejected.inc(0);

  const routes = new LabelBudget(options.maxRoutes);
  const sources = new LabelBudget(options.maxSources);
  type HistogramChild = ReturnType<typeof duration.labels>;
  const histogramChildren = new Map<string, HistogramChild>();
  let collect: ((g: { budgetUsed: GaugeT; ejected: GaugeT }) => void) | null = null;

  return {
    registry,
    request(s) {
      const route = routes.admit(s.route);
      const source = sources.admit(s.source);
      const base = `${s.direction}\u0000${source}\u0000${s.destination}\u0000${route}`;
      let h = histogramChildren.get(base);
      if (h === undefined) {
        h = duration.labels(s.direction, source, s.destination, route);
        histogramChildren.set(base, h);
      }
      h.observe(s.durationSeconds);
      const key = `${base}\u0000${s.status}\u0000${s.reason}`;
      let c = pendingRequests.get(key);
      if (c === undefined) {
        const child = requests.labels(s.direction, source, s.destination, route, String(s.status), s.reason);
        // Created at 0 so the series exists from its first request on.
        child.inc(0);
        c = { child, n: 0 };
        pendingRequests.set(key, c);
      }
      c.n++;
    },
    inFlight(direction, delta) {
      inFlightNow.set(direction, (inFlightNow.get(direction) ?? 0) + delta);
    },
    retry: (destination, reason) => retries.inc({ destination, reason }),
    retryBudgetExhausted: (destination) => budgetExhausted.inc({ destination }),
    ejection: (destination) => ejections.inc({ destination }),
    contextNotPropagated: (destination) => notPropagated.inc({ destination }),
    telemetryDropped: (signal, count) => dropped.inc({ signal }, count),
    configApplied: (rev) => revision.set(rev),
    configRejected: () => rejected.inc(),
    setCollect(fn) {
      collect = fn;
    },
    async render() {
      if (collect !== null) {
        budgetUsed.reset();
        ejected.reset();
        collect({ budgetUsed, ejected });
      }
      return registry.metrics();
    },
  };
}
