// One service, chosen in the `service` variable: what it serves (RED, status codes, routes, callers),
// what it calls (edges out), the failures and retries toward it, and apps that drop trace context.
import { type DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { ATTR } from '@meshlet/wire';
import {
  meshletDashboard,
  errorRatio,
  joinTables,
  labelVariable,
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

const IN = 'direction="inbound", destination="$service"';
const OUT = 'direction="outbound", source="$service"';

export function serviceDashboard(): DashboardBuilder {
  const traces = traceLink('Traces of $service', '${service}');
  const failed = traceLink('Failed traces of $service (${__field.labels.reason})', '${service}', { [ATTR.errorReason]: '${__field.labels.reason}' });
  // Calls $service makes are recorded on its own CLIENT spans, with the callee as peer service.
  const callee = traceLink('Traces $service → ${__field.labels.destination}', '${service}', { [ATTR.peerService]: '${__field.labels.destination}' });
  const calleeFailed = traceLink('Failed traces $service → ${__field.labels.destination} (${__field.labels.reason})', '${service}', {
    [ATTR.peerService]: '${__field.labels.destination}',
    [ATTR.errorReason]: '${__field.labels.reason}',
  });
  const callers = traceLink('Traces ${__field.labels.source} → $service', '${__field.labels.source}', { [ATTR.peerService]: '${service}' });
  // Retries toward $service are made (and recorded) by the callers' sidecars.
  const retried = traceLink('Retried traces ${__field.labels.service} → $service (${__field.labels.reason})', '${__field.labels.service}', {
    [ATTR.peerService]: '${service}',
    [ATTR.errorReason]: '${__field.labels.reason}',
  });

  return meshletDashboard('meshlet / Service', 'meshlet-service', 'One service of the mesh: what it serves, what it calls, its failures, retries and ejections.')
    .withVariable(labelVariable('service', 'destination', 'meshlet_requests_total{direction="inbound"}', { multi: false, text: 'Service' }))

    .withRow(new RowBuilder('$service serves'))
    .withPanel(stat('Requests', 'Requests per second $service served.', 'reqps').dataLinks([traces]).withTarget(query(`sum(rate(meshlet_requests_total{${IN}}[$__rate_interval]))`, 'requests')))
    .withPanel(
      stat('Failed', 'Share of the requests $service served that failed.', 'percentunit')
        .thresholds(thresholds(0.01, 0.05))
        .dataLinks([traces])
        .withTarget(query(errorRatio(IN, ''), 'failed')),
    )
    .withPanel(stat('p99 latency', '99th percentile of the time $service took.', 's').thresholds(thresholds(0.25, 1)).dataLinks([traces]).withTarget(query(latency(0.99, IN, ''), 'p99')))
    .withPanel(stat('In flight', 'Requests being handled by $service\'s sidecars now (inbound and outbound).', 'short').withTarget(query('sum(meshlet_requests_in_flight{service="$service"})', 'in flight')))
    .withPanel(
      stackedBars('Responses by status', 'Responses per second $service sent, by HTTP status.', 'reqps')
        .dataLinks([traces])
        .withTarget(query(rate(IN, 'status'), '{{status}}')),
    )
    .withPanel(
      timeseries('Latency', 'Percentiles of the time $service took, as seen by its own sidecar.', 's')
        .dataLinks([traces])
        .withTarget(query(latency(0.5, IN, ''), 'p50', 'A'))
        .withTarget(query(latency(0.9, IN, ''), 'p90', 'B'))
        .withTarget(query(latency(0.99, IN, ''), 'p99', 'C')),
    )
    .withPanel(
      stackedBars('Failures by reason', 'Failed requests per second at $service by reason (app_error = the app answered 5xx).', 'reqps')
        .dataLinks([failed])
        .withTarget(query(rate(`${IN}, reason!=""`, 'reason'), '{{reason}}')),
    )
    .withPanel(timeseries('Callers', 'Requests per second $service received from each caller.', 'reqps').dataLinks([callers]).withTarget(query(rate(IN, 'source'), '{{source}}')))
    .withPanel(
      table('Routes', 'Each route of $service over the time range: requests per second, error ratio, p99 latency.')
        .dataLinks([traces])
        .withTarget(tableQuery(rate(IN, 'route', '$__range'), 'A'))
        .withTarget(tableQuery(errorRatio(IN, 'route', '$__range'), 'B'))
        .withTarget(tableQuery(latency(0.99, IN, 'route', '$__range'), 'C'))
        .transformations(joinTables({ route: 'Route', 'Value #A': 'Requests/s', 'Value #B': 'Error ratio', 'Value #C': 'p99 (s)' })),
    )

    .withRow(new RowBuilder('$service calls'))
    .withPanel(timeseries('Calls by destination', 'Requests per second $service made to each service.', 'reqps').dataLinks([callee]).withTarget(query(rate(OUT, 'destination'), '{{destination}}')))
    .withPanel(
      timeseries('Error ratio by destination', 'Share of $service\'s calls to each service that failed, as its sidecar saw them.', 'percentunit')
        .max(1)
        .dataLinks([callee])
        .withTarget(query(errorRatio(OUT, 'destination'), '{{destination}}')),
    )
    .withPanel(timeseries('p99 latency by destination', '99th percentile of the calls $service made, including retries.', 's').dataLinks([callee]).withTarget(query(latency(0.99, OUT, 'destination'), '{{destination}}')))
    .withPanel(
      stackedBars('Failed calls by destination and reason', 'Calls of $service that failed, by callee and reason.', 'reqps')
        .dataLinks([calleeFailed])
        .withTarget(query(rate(`${OUT}, reason!=""`, 'destination, reason'), '{{destination}}: {{reason}}')),
    )

    .withRow(new RowBuilder('Resilience toward $service'))
    .withPanel(
      timeseries('Retries to $service', 'Retries callers made to $service per second, by the failure retried.', 'reqps')
        .dataLinks([retried])
        .withTarget(query('sum by (service, reason) (rate(meshlet_retries_total{destination="$service"}[$__rate_interval]))', '{{service}}: {{reason}}')),
    )
    .withPanel(
      timeseries('Retry budget toward $service', 'Budget used by each caller\'s sidecar (1 = exhausted), and retries it refused.', 'short')
        .withTarget(query('max by (service) (meshlet_retry_budget_used_ratio{destination="$service"})', 'used: {{service}}', 'A'))
        .withTarget(query('sum by (service) (rate(meshlet_retry_budget_exhausted_total{destination="$service"}[$__rate_interval]))', 'refused/s: {{service}}', 'B')),
    )
    .withPanel(
      timeseries('Ejected endpoints of $service', 'Endpoints of $service its callers have ejected after consecutive failures, and ejections per interval.', 'short')
        .withTarget(query('max by (service) (meshlet_endpoints_ejected{destination="$service"})', 'ejected by {{service}}', 'A'))
        .withTarget(query('sum by (service) (increase(meshlet_outlier_ejections_total{destination="$service"}[$__rate_interval]))', 'ejections by {{service}}', 'B')),
    )
    .withPanel(
      timeseries(
        'Calls without trace context',
        'Outbound calls $service\'s app made while handling a request, without passing that request\'s trace context on: these traces break in two.',
        'reqps',
      ).withTarget(query('sum by (destination) (rate(meshlet_context_not_propagated_total{service="$service"}[$__rate_interval]))', '{{destination}}')),
    );
}
