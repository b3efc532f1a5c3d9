// Mesh overview: RED per service (server side) and per edge (caller → callee), failures by reason,
// retries and their budget, outlier ejections. Every series links to the matching traces.
import { type DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { ATTR } from '@meshlet/wire';
import {
  meshletDashboard,
  errorRatio,
  joinTables,
  latency,
  query,
  rate,
  stackedBars,
  stat,
  table,
  tableQuery,
  thresholds,
  timeseries,
  traceLink,
} from './common.ts';

const IN = 'direction="inbound"';
const OUT = 'direction="outbound"';

export function meshOverview(): DashboardBuilder {
  // Server-side series (inbound) link to the callee's spans; caller-side series (outbound, retries) to the
  // caller's CLIENT spans toward that callee, where proxy-made failures are recorded.
  const byService = traceLink('Traces of ${__field.labels.destination}', '${__field.labels.destination}');
  const byServiceReason = traceLink('Failed traces of ${__field.labels.destination} (${__field.labels.reason})', '${__field.labels.destination}', {
    [ATTR.errorReason]: '${__field.labels.reason}',
  });
  const byEdge = traceLink('Traces ${__field.labels.source} → ${__field.labels.destination}', '${__field.labels.source}', { [ATTR.peerService]: '${__field.labels.destination}' });
  const byEdgeReason = traceLink('Failed traces ${__field.labels.source} → ${__field.labels.destination} (${__field.labels.reason})', '${__field.labels.source}', {
    [ATTR.peerService]: '${__field.labels.destination}',
    [ATTR.errorReason]: '${__field.labels.reason}',
  });
  const retried = traceLink('Retried traces ${__field.labels.service} → ${__field.labels.destination} (${__field.labels.reason})', '${__field.labels.service}', {
    [ATTR.peerService]: '${__field.labels.destination}',
    [ATTR.errorReason]: '${__field.labels.reason}',
  });

  return meshletDashboard('meshlet / Mesh overview', 'meshlet-mesh-overview', 'Requests, errors and latency of every service and every edge of the mesh, failure reasons, retries and ejections.')

    .withRow(new RowBuilder('Mesh'))
    .withPanel(stat('Requests', 'Requests per second served by all services (counted by the callee sidecars).', 'reqps').withTarget(query(`sum(rate(meshlet_requests_total{${IN}}[$__rate_interval]))`, 'requests')))
    .withPanel(
      stat('Failed', 'Share of requests that failed (proxy-made failure or an app 5xx).', 'percentunit')
        .thresholds(thresholds(0.01, 0.05))
        .withTarget(query(errorRatio(IN, ''), 'failed')),
    )
    .withPanel(stat('p99 latency', '99th percentile of request duration over all services.', 's').thresholds(thresholds(0.25, 1)).withTarget(query(latency(0.99, IN, ''), 'p99')))
    .withPanel(
      stat('Retries', 'Retries per second made by all sidecars.', 'reqps').withTarget(query('sum(rate(meshlet_retries_total[$__rate_interval]))', 'retries')),
    )

    .withRow(new RowBuilder('Services'))
    .withPanel(timeseries('Request rate by service', 'Requests per second each service served.', 'reqps').dataLinks([byService]).withTarget(query(rate(IN, 'destination'), '{{destination}}')))
    .withPanel(
      timeseries('Error ratio by service', 'Share of the requests each service served that failed.', 'percentunit')
        .max(1)
        .dataLinks([byService])
        .withTarget(query(errorRatio(IN, 'destination'), '{{destination}}')),
    )
    .withPanel(timeseries('p99 latency by service', '99th percentile of the time each service took, as seen by its own sidecar.', 's').dataLinks([byService]).withTarget(query(latency(0.99, IN, 'destination'), '{{destination}}')))
    .withPanel(timeseries('p50 latency by service', 'Median time each service took, as seen by its own sidecar.', 's').dataLinks([byService]).withTarget(query(latency(0.5, IN, 'destination'), '{{destination}}')))

    .withRow(new RowBuilder('Edges (caller → callee)'))
    .withPanel(
      table('Edges', 'Every caller → callee pair: rate, error ratio and p99 latency over the time range, as the caller\'s sidecar saw them (including retries and proxy-made failures).')
        .dataLinks([byEdge])
        .withTarget(tableQuery(rate(OUT, 'source, destination', '$__range'), 'A'))
        .withTarget(tableQuery(errorRatio(OUT, 'source, destination', '$__range'), 'B'))
        .withTarget(tableQuery(latency(0.99, OUT, 'source, destination', '$__range'), 'C'))
        .transformations(joinTables({ source: 'Caller', destination: 'Callee', 'Value #A': 'Requests/s', 'Value #B': 'Error ratio', 'Value #C': 'p99 (s)' })),
    )
    .withPanel(timeseries('Request rate by edge', 'Requests per second from each caller to each callee.', 'reqps').dataLinks([byEdge]).withTarget(query(rate(OUT, 'source, destination'), '{{source}} → {{destination}}')))
    .withPanel(
      timeseries('Error ratio by edge', 'Share of the calls on each edge that failed, as the caller saw them.', 'percentunit')
        .max(1)
        .dataLinks([byEdge])
        .withTarget(query(errorRatio(OUT, 'source, destination'), '{{source}} → {{destination}}')),
    )

    .withRow(new RowBuilder('Failures'))
    .withPanel(
      stackedBars('Failures seen by callers, by reason', 'Failed outbound calls per second by reason: proxy-made (connect_refused, no_endpoints, retry_budget_exhausted, …) or app_error.', 'reqps')
        .dataLinks([byEdgeReason])
        .withTarget(query(rate(`${OUT}, reason!=""`, 'source, destination, reason'), '{{source}} → {{destination}}: {{reason}}')),
    )
    .withPanel(
      stackedBars('Failures at services, by reason', 'Failed inbound requests per second by reason, as the callee\'s sidecar saw them.', 'reqps')
        .dataLinks([byServiceReason])
        .withTarget(query(rate(`${IN}, reason!=""`, 'destination, reason'), '{{destination}}: {{reason}}')),
    )

    .withRow(new RowBuilder('Retries and ejections'))
    .withPanel(
      timeseries('Retries by destination and reason', 'Retries made per second, by the service retried and the failure that caused them.', 'reqps')
        .dataLinks([retried])
        .withTarget(query('sum by (service, destination, reason) (rate(meshlet_retries_total[$__rate_interval]))', '{{service}} → {{destination}}: {{reason}}')),
    )
    .withPanel(
      timeseries('Retry budget used', 'Retries in the budget window over the retries the budget allows (1 = exhausted: further retries are refused).', 'percentunit')
        .max(1)
        .thresholds(thresholds(0.5, 1))
        .withTarget(query('max by (destination) (meshlet_retry_budget_used_ratio)', '{{destination}}')),
    )
    .withPanel(
      stackedBars('Retries refused by the budget', 'Retries not made because the destination\'s retry budget was spent (the failure went back to the caller).', 'reqps').withTarget(
        query('sum by (destination) (rate(meshlet_retry_budget_exhausted_total[$__rate_interval]))', '{{destination}}'),
      ),
    )
    .withPanel(
      timeseries('Endpoints ejected', 'Endpoints currently ejected by outlier detection (consecutive failures), and ejections per interval.', 'short')
        .withTarget(query('sum by (destination) (meshlet_endpoints_ejected)', 'ejected: {{destination}}', 'A'))
        .withTarget(query('sum by (destination) (increase(meshlet_outlier_ejections_total[$__rate_interval]))', 'ejections: {{destination}}', 'B')),
    );
}
