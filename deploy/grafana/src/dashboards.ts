// The meshlet dashboards and the JSON files they are committed as (grafana/dashboards/<file>).
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { collectorHealth } from './collector-health.ts';
import { meshOverview } from './mesh-overview.ts';
import { serviceDashboard } from './service.ts';
import { sidecarResources } from './sidecar-resources.ts';

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

/** Builds every dashboard; panels get ids in layout order (Grafana needs them unique per dashboard). */
export function buildDashboards(): DashboardFile[] {
  const all: [string, Dashboard][] = [
    ['mesh-overview.json', meshOverview().build()],
    ['service.json', serviceDashboard().build()],
    ['sidecar-resources.json', sidecarResources().build()],
    ['collector-health.json', collectorHealth().build()],
  ];
  return all.map(([file, dashboard]) => {
    let id = 0;
    for (const panel of dashboard.panels ?? []) {
      panel.id = ++id;
      for (const inner of 'panels' in panel ? (panel.panels ?? []) : []) inner.id = ++id;
    }
    return { file, dashboard };
  });
}

/** The committed form: 2-space JSON with a final newline. */
export function renderDashboard(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
