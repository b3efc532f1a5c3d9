// What the sidecars cost and whether they keep up: CPU, memory, event loop, GC, file descriptors,
// in-flight requests, telemetry they had to drop, and the config revision in force — per sidecar.
import { type DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { meshletDashboard, labelVariable, query, stackedBars, stat, thresholds, timeseries } from './common.ts';

// Sidecar process metrics carry the scrape target's labels: `service` (set by the scrape config) and
// `instance` (the admin address).
const SEL = 'service=~"$service", instance=~"$instance"';
const WHO = '{{service}} {{instance}}';

export function sidecarResources(): DashboardBuilder {
  return meshletDashboard('meshlet / Sidecar resources', 'meshlet-sidecar-resources', 'CPU, memory, event loop and telemetry drops of each meshlet sidecar.')
    .withVariable(labelVariable('service', 'service', 'meshlet_process_resident_memory_bytes', { multi: true, text: 'Service' }))
    .withVariable(labelVariable('instance', 'instance', 'meshlet_process_resident_memory_bytes{service=~"$service"}', { multi: true, text: 'Sidecar' }))

    .withRow(new RowBuilder('Totals'))
    .withPanel(stat('Sidecars up', 'Sidecars whose admin endpoint answered the last scrape.', 'short').withTarget(query(`count(up{${SEL}} == 1 and on (instance) meshlet_config_revision)`, 'up')))
    .withPanel(stat('CPU, all sidecars', 'CPU cores used by the selected sidecars together.', 'short').withTarget(query(`sum(rate(meshlet_process_cpu_seconds_total{${SEL}}[$__rate_interval]))`, 'cores')))
    .withPanel(stat('Memory, all sidecars', 'Resident memory of the selected sidecars together.', 'bytes').withTarget(query(`sum(meshlet_process_resident_memory_bytes{${SEL}})`, 'RSS')))
    .withPanel(
      stat('Telemetry dropped', 'Spans and access-log lines dropped by the selected sidecars in the time range (queue full or export failed).', 'short')
        .thresholds(thresholds(1, 1000))
        .withTarget(query(`sum(increase(meshlet_telemetry_dropped_total{${SEL}}[$__range]))`, 'dropped')),
    )

    .withRow(new RowBuilder('Per sidecar'))
    .withPanel(timeseries('CPU', 'CPU cores used by each sidecar process (user + system).', 'short').withTarget(query(`sum by (service, instance) (rate(meshlet_process_cpu_seconds_total{${SEL}}[$__rate_interval]))`, WHO)))
    .withPanel(
      timeseries('Memory', 'Resident set size and V8 heap in use of each sidecar.', 'bytes')
        .withTarget(query(`meshlet_process_resident_memory_bytes{${SEL}}`, `RSS ${WHO}`, 'A'))
        .withTarget(query(`meshlet_nodejs_heap_size_used_bytes{${SEL}}`, `heap ${WHO}`, 'B')),
    )
    .withPanel(
      timeseries('Event loop lag', 'How late the event loop ran timers (p99 and mean over the last sampling period): high values delay every request.', 's')
        .withTarget(query(`meshlet_nodejs_eventloop_lag_p99_seconds{${SEL}}`, `p99 ${WHO}`, 'A'))
        .withTarget(query(`meshlet_nodejs_eventloop_lag_mean_seconds{${SEL}}`, `mean ${WHO}`, 'B')),
    )
    .withPanel(
      timeseries('Garbage collection', 'Share of time each sidecar spent in garbage collection.', 'percentunit').withTarget(
        query(`sum by (service, instance) (rate(meshlet_nodejs_gc_duration_seconds_sum{${SEL}}[$__rate_interval]))`, WHO),
      ),
    )
    .withPanel(
      timeseries('Requests in flight', 'Requests each sidecar is handling now, by direction.', 'short').withTarget(
        query(`sum by (service, instance, direction) (meshlet_requests_in_flight{${SEL}})`, `${WHO} {{direction}}`),
      ),
    )
    .withPanel(
      timeseries('Open file descriptors', 'Sockets and files each sidecar holds open, against its limit.', 'short')
        .withTarget(query(`meshlet_process_open_fds{${SEL}}`, `open ${WHO}`, 'A'))
        .withTarget(query(`meshlet_process_max_fds{${SEL}}`, `limit ${WHO}`, 'B')),
    )
    .withPanel(
      stackedBars('Telemetry dropped', 'Spans and access-log lines dropped per second (bounded queues never block a request: they drop and count).', 'short').withTarget(
        query(`sum by (service, instance, signal) (rate(meshlet_telemetry_dropped_total{${SEL}}[$__rate_interval]))`, `${WHO} {{signal}}`),
      ),
    )
    .withPanel(
      timeseries('Config', 'Revision of the config each sidecar runs, and configs it rejected as invalid (it kept the previous one).', 'short')
        .withTarget(query(`meshlet_config_revision{${SEL}}`, `revision ${WHO}`, 'A'))
        .withTarget(query(`increase(meshlet_config_rejected_total{${SEL}}[$__rate_interval])`, `rejected ${WHO}`, 'B')),
    );
}
