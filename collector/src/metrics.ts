// The collector's own Prometheus metrics (`/metrics` on 16686), on a registry of its own.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface CollectorMetrics {
  registry: Registry;
  received: Counter<'signal'>;
  /** Whole requests refused (malformed, too large, busy, store error): items in them, by reason. */
  refused: Counter<'signal' | 'reason'>;
  /** Items accepted by the protocol but not stored: rejected one by one, or duplicates. */
  dropped: Counter<'signal' | 'reason'>;
  stored: Counter<'signal'>;
  requests: Counter<'signal' | 'code'>;
  ackSeconds: Histogram<'signal'>;
  tracesAnalysed: Counter<'kind'>;
  forwarded: Counter<'signal' | 'outcome'>;
}

/** Creates the metrics; `gauges` are read at scrape time. */
export function createMetrics(gauges: {
  queueDepth: () => number;
  analysisLagSeconds: () => number;
  storeSpans: () => number;
  storeTraces: () => number;
  storeBytes: () => number;
  streamClients: () => number;
}): CollectorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meshlet_collector_' });
  const labelsSignal = ['signal'] as const;
  const m: CollectorMetrics = {
    registry,
    received: new Counter({ name: 'meshlet_collector_received_total', help: 'Spans or log records received in export requests.', labelNames: labelsSignal, registers: [registry] }),
    refused: new Counter({
      name: 'meshlet_collector_refused_total',
      help: 'Spans or log records in export requests refused as a whole (reason: malformed, too_large, busy, store_error, unsupported).',
      labelNames: ['signal', 'reason'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'meshlet_collector_dropped_total',
      help: 'Spans or log records accepted but not stored (reason: rejected = invalid item, partial success; duplicate).',
      labelNames: ['signal', 'reason'],
      registers: [registry],
    }),
    stored: new Counter({ name: 'meshlet_collector_stored_total', help: 'Spans or log records durably stored.', labelNames: labelsSignal, registers: [registry] }),
    requests: new Counter({ name: 'meshlet_collector_export_requests_total', help: 'OTLP export requests by HTTP status.', labelNames: ['signal', 'code'], registers: [registry] }),
    ackSeconds: new Histogram({
      name: 'meshlet_collector_export_ack_seconds',
      help: 'Time from the end of an export request body to its durable acknowledgement.',
      labelNames: labelsSignal,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    tracesAnalysed: new Counter({ name: 'meshlet_collector_traces_analysed_total', help: 'Traces analysed (kind: first, late = re-analysed after late spans).', labelNames: ['kind'], registers: [registry] }),
    forwarded: new Counter({
      name: 'meshlet_collector_forwarded_requests_total',
      help: 'Export requests forwarded to the next OTLP endpoint (outcome: ok, failed, dropped).',
      labelNames: ['signal', 'outcome'],
      registers: [registry],
    }),
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  };
  gauge('meshlet_collector_queue_depth', 'Spans and log records waiting to be written.', gauges.queueDepth);
  gauge('meshlet_collector_analysis_lag_seconds', 'How far the analysis is behind (age beyond the quiet time of the oldest waiting trace).', gauges.analysisLagSeconds);
  gauge('meshlet_collector_store_spans', 'Spans in the store.', gauges.storeSpans);
  gauge('meshlet_collector_store_traces', 'Traces in the store.', gauges.storeTraces);
  gauge('meshlet_collector_store_bytes', 'Bytes the store uses on disk (excluding free pages).', gauges.storeBytes);
  gauge('meshlet_collector_stream_clients', 'Clients connected to the live stream.', gauges.streamClients);
  return m;
}
