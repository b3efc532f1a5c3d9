// Building blocks shared by the meshlet dashboards: data source references, panel defaults, PromQL
// snippets over the sidecar's RED metrics, and data links into the collector's traces (Jaeger data source).
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type DataTransformerConfig,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** UIDs of the provisioned data sources (grafana/provisioning/datasources/meshlet.yaml). */
export const PROMETHEUS_UID = 'meshlet-prometheus';
export const JAEGER_UID = 'meshlet-jaeger';

/** Panels query the Prometheus chosen in the `datasource` variable (default: the provisioned one). */
export const PROMETHEUS = { type: 'prometheus', uid: '${datasource}' };

/** Tags every meshlet dashboard carries; the dashboards link to each other by this tag. */
export const TAG = 'meshlet';

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .type('prometheus')
    .current({ selected: true, text: 'meshlet Prometheus', value: PROMETHEUS_UID });
}

/** A variable filled from a label's values (`label_values(metric, label)`). */
export function labelVariable(name: string, label: string, metricSelector: string, o: { multi: boolean; text: string }): QueryVariableBuilder {
  const v = new QueryVariableBuilder(name)
    .label(o.text)
    .datasource(PROMETHEUS)
    // The classic string form: every Grafana version reads it (newer ones migrate it to their editor).
    .query(`label_values(${metricSelector}, ${label})`)
    .definition(`label_values(${metricSelector}, ${label})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
  if (o.multi) v.multi(true).includeAll(true).allValue('.+').current({ selected: true, text: 'All', value: '$__all' });
  return v;
}

/**
 * A meshlet dashboard with what every one of them shares: the tag, 10 s refresh, the last 30 minutes in
 * the browser's time zone, the link bar to the other meshlet dashboards and the data source variable.
 */
export function meshletDashboard(title: string, uid: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([TAG])
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .link(dashboardsLink())
    .withVariable(datasourceVariable());
}

/** Link bar entry to the other meshlet dashboards (same time range and variables). */
export function dashboardsLink(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('meshlet dashboards').type(DashboardLinkType.Dashboards).tags([TAG]).asDropdown(true).includeVars(true).keepTime(true);
}

export function query(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).range().refId(refId);
}

/** An instant query shown as a table (one row per series, labels as columns). */
export function tableQuery(expr: string, refId: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat('__auto').instant().format(PromQueryFormat.Table).refId(refId);
}

export function timeseries(title: string, description: string, unit: string): TimeseriesBuilder {
  return new TimeseriesBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(unit)
    .height(8)
    .span(12)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .drawStyle(common.GraphDrawStyle.Line)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).placement(common.LegendPlacement.Bottom).displayMode(common.LegendDisplayMode.List))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

/** Stacked bars, for counts per interval by a category (failure reasons). */
export function stackedBars(title: string, description: string, unit: string): TimeseriesBuilder {
  return timeseries(title, description, unit)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
}

export function stat(title: string, description: string, unit: string): StatBuilder {
  return new StatBuilder()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(unit)
    .height(4)
    .span(6)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** Green below `warn`, amber from `warn`, red from `bad`. */
export function thresholds(warn: number, bad: number): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: warn, color: 'orange' },
    { value: bad, color: 'red' },
  ]);
}

export function table(title: string, description: string): TableBuilder {
  return new TableBuilder().title(title).description(description).datasource(PROMETHEUS).height(8).span(24);
}

/** Joins instant table queries on their labels and drops Prometheus' `Time` column. */
export function joinTables(rename: Record<string, string>): DataTransformerConfig[] {
  return [
    { id: 'merge', options: {} },
    { id: 'organize', options: { excludeByName: { Time: true }, renameByName: rename } },
  ];
}

// PromQL over the sidecar's metrics. Inbound requests are counted by the callee's sidecar (destination =
// the service itself), outbound by the caller's (source → destination): server view vs edge view.
// A request failed when the sidecar gave it a reason (proxy-made failure or app 5xx = app_error).

// Graphs use `$__rate_interval` (rates now); tables use `$__range` (over the whole time range shown).

/** `sum by (by) (rate(meshlet_requests_total{sel}[window]))` */
export function rate(selector: string, by: string, window = '$__rate_interval'): string {
  return `sum by (${by}) (rate(meshlet_requests_total{${selector}}[${window}]))`;
}

/** Failed requests as a fraction of all, by `by`; 0 (not nothing) where there were no failures. */
export function errorRatio(selector: string, by: string, window = '$__rate_interval'): string {
  const all = rate(selector, by, window);
  return `(\n  ${rate(`${selector}, reason!=""`, by, window)}\n  or ${all} * 0\n)\n/ ${all}`;
}

/** A latency quantile from the duration histogram, by `by`. */
export function latency(q: number, selector: string, by: string, window = '$__rate_interval'): string {
  const le = by === '' ? 'le' : `${by}, le`;
  return `histogram_quantile(${q}, sum by (${le}) (rate(meshlet_request_duration_seconds_bucket{${selector}}[${window}])))`;
}

/**
 * A data link that opens Grafana Explore on the Jaeger data source (the collector's Jaeger API) with a
 * trace search. `service` and the tag value may hold data-link variables such as
 * `${__field.labels.destination}`; they are filled in (percent-encoded) by Grafana when clicked.
 *
 * @example
 * traceLink('Failed traces with this reason', '${__field.labels.destination}', { 'meshlet.error.reason': '${__field.labels.reason}' })
 */
export function traceLink(title: string, service: string, tags: Record<string, string> = {}): DashboardLinkBuilder {
  const logfmt = Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const panes = {
    traces: {
      datasource: JAEGER_UID,
      queries: [{ refId: 'A', datasource: { type: 'jaeger', uid: JAEGER_UID }, queryType: 'search', service, ...(logfmt === '' ? {} : { tags: logfmt }), limit: 20 }],
      range: { from: '${__from}', to: '${__to}' },
    },
  };
  return new DashboardLinkBuilder(title).url(`/explore?schemaVersion=1&orgId=1&panes=${encodeKeepingVariables(JSON.stringify(panes))}`).targetBlank(true);
}

/**
 * Percent-encodes a URL component but leaves `${...}` variables for Grafana, asking it to percent-encode
 * their values (`:percentencode`), so a label value with a quote or space cannot break the JSON or the URL.
 */
export function encodeKeepingVariables(text: string): string {
  return text
    .split(/(\$\{[^}]+\})/)
    .map((part) => (/^\$\{[^}]+\}$/.test(part) ? (part.includes(':') ? part : `${part.slice(0, -1)}:percentencode}`) : encodeURIComponent(part)))
    .join('');
}
