// The collector: what it ingests and refuses, how fast it acknowledges, its queue, how far the analysis
// lags, how big the store is, forwarding, and the process itself.
import { type DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { meshletDashboard, labelVariable, query, stackedBars, stat, thresholds, timeseries } from './common.ts';

const SEL = 'instance=~"$instance"';

export function collectorHealth(): DashboardBuilder {
  return meshletDashboard('meshlet / Collector health', 'meshlet-collector-health', 'OTLP ingest, refusals, queue, analysis lag, store size and forwarding of the meshlet collector.')
    .withVariable(labelVariable('instance', 'instance', 'meshlet_collector_received_total', { multi: true, text: 'Collector' }))

    .withRow(new RowBuilder('Now'))
    .withPanel(stat('Spans in', 'Spans received per second.', 'short').withTarget(query(`sum(rate(meshlet_collector_received_total{${SEL}, signal="traces"}[$__rate_interval]))`, 'spans/s')))
    .withPanel(
      stat('Refused', 'Items in export requests refused as a whole in the time range (malformed, too large, busy, store error).', 'short')
        .thresholds(thresholds(1, 100))
        .withTarget(query(`sum(increase(meshlet_collector_refused_total{${SEL}}[$__range]))`, 'refused')),
    )
    .withPanel(stat('Analysis lag', 'How far the failure analysis is behind the data (beyond the quiet time).', 's').thresholds(thresholds(5, 30)).withTarget(query(`max(meshlet_collector_analysis_lag_seconds{${SEL}})`, 'lag')))
    .withPanel(stat('Store size', 'Bytes the trace store uses on disk.', 'bytes').withTarget(query(`sum(meshlet_collector_store_bytes{${SEL}})`, 'store')))

    .withRow(new RowBuilder('Ingest'))
    .withPanel(
      timeseries('Received and stored', 'Spans and log records received per second, and durably stored.', 'short')
        .withTarget(query(`sum by (signal) (rate(meshlet_collector_received_total{${SEL}}[$__rate_interval]))`, 'received {{signal}}', 'A'))
        .withTarget(query(`sum by (signal) (rate(meshlet_collector_stored_total{${SEL}}[$__rate_interval]))`, 'stored {{signal}}', 'B')),
    )
    .withPanel(
      stackedBars('Refused and dropped', 'Items refused with their whole request (by reason), and accepted items not stored (rejected one by one, duplicates).', 'short')
        .withTarget(query(`sum by (signal, reason) (rate(meshlet_collector_refused_total{${SEL}}[$__rate_interval]))`, 'refused {{signal}}: {{reason}}', 'A'))
        .withTarget(query(`sum by (signal, reason) (rate(meshlet_collector_dropped_total{${SEL}}[$__rate_interval]))`, 'dropped {{signal}}: {{reason}}', 'B')),
    )
    .withPanel(
      stackedBars('Export requests by status', 'OTLP export requests answered per second, by HTTP status (503 = busy: exporters retry).', 'reqps').withTarget(
        query(`sum by (signal, code) (rate(meshlet_collector_export_requests_total{${SEL}}[$__rate_interval]))`, '{{signal}} {{code}}'),
      ),
    )
    .withPanel(
      timeseries('Acknowledgement latency', 'Time from the end of an export request to its durable acknowledgement (p50, p99).', 's')
        .withTarget(query(`histogram_quantile(0.5, sum by (le) (rate(meshlet_collector_export_ack_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50', 'A'))
        .withTarget(query(`histogram_quantile(0.99, sum by (le) (rate(meshlet_collector_export_ack_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p99', 'B')),
    )

    .withRow(new RowBuilder('Queue, analysis, store'))
    .withPanel(timeseries('Write queue', 'Spans and log records waiting to be written; past --max-queue exports get 503.', 'short').withTarget(query(`sum by (instance) (meshlet_collector_queue_depth{${SEL}})`, '{{instance}}')))
    .withPanel(
      timeseries('Analysis', 'Traces analysed per second (first time, or again after late spans), and how far the analysis lags.', 'short')
        .withTarget(query(`sum by (kind) (rate(meshlet_collector_traces_analysed_total{${SEL}}[$__rate_interval]))`, 'analysed/s {{kind}}', 'A'))
        .withTarget(query(`max(meshlet_collector_analysis_lag_seconds{${SEL}})`, 'lag (s)', 'B')),
    )
    .withPanel(
      timeseries('Store', 'Spans and traces kept (retention by age and size prunes them).', 'short')
        .withTarget(query(`sum(meshlet_collector_store_spans{${SEL}})`, 'spans', 'A'))
        .withTarget(query(`sum(meshlet_collector_store_traces{${SEL}})`, 'traces', 'B')),
    )
    .withPanel(timeseries('Store size', 'Bytes the store uses on disk (excluding free pages).', 'bytes').withTarget(query(`sum by (instance) (meshlet_collector_store_bytes{${SEL}})`, '{{instance}}')))

    .withRow(new RowBuilder('Forwarding and process'))
    .withPanel(
      stackedBars('Forwarded', 'Export requests forwarded to the next OTLP endpoint (--forward), by outcome.', 'reqps').withTarget(
        query(`sum by (signal, outcome) (rate(meshlet_collector_forwarded_requests_total{${SEL}}[$__rate_interval]))`, '{{signal}} {{outcome}}'),
      ),
    )
    .withPanel(timeseries('Live stream clients', 'Browsers following the live stream (UI graph, failures).', 'short').withTarget(query(`sum(meshlet_collector_stream_clients{${SEL}})`, 'clients')))
    .withPanel(
      timeseries('Collector CPU and event loop', 'CPU cores used by the collector process, and its event loop lag (p99).', 'short')
        .withTarget(query(`sum by (instance) (rate(meshlet_collector_process_cpu_seconds_total{${SEL}}[$__rate_interval]))`, 'CPU {{instance}}', 'A'))
        .withTarget(query(`max by (instance) (meshlet_collector_nodejs_eventloop_lag_p99_seconds{${SEL}})`, 'loop lag p99 (s) {{instance}}', 'B')),
    )
    .withPanel(
      timeseries('Collector memory', 'Resident memory and V8 heap in use of the collector.', 'bytes')
        .withTarget(query(`meshlet_collector_process_resident_memory_bytes{${SEL}}`, 'RSS {{instance}}', 'A'))
        .withTarget(query(`meshlet_collector_nodejs_heap_size_used_bytes{${SEL}}`, 'heap {{instance}}', 'B')),
    );
}
