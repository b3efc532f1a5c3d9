// Reads built dashboards the way Grafana does, for checks: every panel query (rows included), every
// variable, every data link, and Grafana's variable expansion in a query.

/** The parts of Grafana's dashboard JSON the checks read. */
export interface GrafanaDashboard {
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating?: { list?: GrafanaVariable[] };
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title?: string;
  targets?: { expr?: string; refId?: string; instant?: boolean; range?: boolean; legendFormat?: string; datasource?: { uid?: string } }[];
  fieldConfig?: { defaults?: { links?: { title: string; url: string }[] } };
  panels?: GrafanaPanel[];
}

export interface GrafanaVariable {
  type: string;
  name: string;
  query?: unknown;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

function allPanels(d: GrafanaDashboard): GrafanaPanel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function dashboardQueries(d: GrafanaDashboard): PanelQuery[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [{ dashboard: d.title, panel: p.title ?? `#${p.id}`, refId: t.refId ?? 'A', expr: t.expr, instant: t.instant === true }])),
  );
}

export function panelLinks(d: GrafanaDashboard): { panel: string; title: string; url: string }[] {
  return allPanels(d).flatMap((p) => (p.fieldConfig?.defaults?.links ?? []).map((l) => ({ panel: p.title ?? `#${p.id}`, title: l.title, url: l.url })));
}

/** `label_values(selector, label)` of a query variable, split into its parts. */
export function labelValuesQuery(v: GrafanaVariable): { selector: string; label: string } | null {
  if (typeof v.query !== 'string') return null;
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s.exec(v.query);
  return m === null ? null : { selector: m[1] as string, label: m[2] as string };
}

/**
 * Expands dashboard variables in a query as Grafana's Prometheus data source does: a string is a single
 * value, put in as it is (a plain variable, or All with its `allValue`); an array is the selection of a
 * multi-value variable, regex-escaped for a PromQL string (`127\\.0\\.0\\.1`) and joined as `(a|b)`.
 * Unknown variables are left alone (so a check notices them).
 */
export function expandVariables(expr: string, values: Readonly<Record<string, string | readonly string[]>>): string {
  return expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) return whole;
    if (typeof value === 'string') return value;
    const escaped = value.map(escapeRegex);
    return escaped.length === 1 ? (escaped[0] as string) : `(${escaped.join('|')})`;
  });
}

function escapeRegex(s: string): string {
  // Two backslashes: one for the PromQL string literal, one for the regex.
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}
