import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { staleDashboards } from './build.ts';
import { JAEGER_UID, PROMETHEUS_UID } from './common.ts';
import { buildDashboards } from './dashboards.ts';
import { dashboardQueries, panelLinks, type GrafanaDashboard } from './walk.ts';

const provisioning = join(import.meta.dirname, '..', 'provisioning');

test('the committed dashboard JSON is what the TypeScript builds (run `npm run dashboards -w deploy` after a change)', async () => {
  assert.deepEqual(await staleDashboards(), []);
});

test('a stale or missing dashboard file is reported', async () => {
  assert.deepEqual((await staleDashboards('/nonexistent')).length, buildDashboards().length);
});

test('every panel has an id, a title and at least one Prometheus query; uids are unique', () => {
  const uids = new Set<string>();
  for (const { file, dashboard } of buildDashboards()) {
    const d = dashboard as unknown as GrafanaDashboard;
    assert.ok(d.uid !== undefined && !uids.has(d.uid), `${file}: uid`);
    uids.add(d.uid);
    const ids = new Set<number>();
    for (const p of d.panels) {
      assert.ok(typeof p.id === 'number' && !ids.has(p.id), `${file}: panel id ${p.id}`);
      ids.add(p.id);
      if (p.type === 'row') continue;
      assert.ok(p.title, `${file}: panel ${p.id} has a title`);
      assert.ok((p.targets ?? []).length > 0, `${file}: "${p.title}" has queries`);
      for (const t of p.targets ?? []) {
        assert.equal(t.datasource?.uid, '${datasource}', `${file}: "${p.title}" queries the selected Prometheus`);
        assert.ok(t.expr !== undefined && t.expr.length > 0);
      }
    }
    assert.ok(dashboardQueries(d).length >= 8, `${file}: enough queries`);
  }
});

test('trace links open a Jaeger search on the provisioned traces data source', () => {
  let links = 0;
  for (const { dashboard } of buildDashboards()) {
    for (const { url } of panelLinks(dashboard as unknown as GrafanaDashboard)) {
      links++;
      const panes = new URL(url, 'http://grafana').searchParams.get('panes');
      assert.ok(panes !== null, url);
      // Grafana fills `${...}` in before opening; stand in for it to check the JSON shape.
      const filled = JSON.parse(panes.replace(/\$\{[^}]+\}/g, 'x')) as { traces: { datasource: string; queries: { datasource: { uid: string }; queryType: string; service: string }[] } };
      assert.equal(filled.traces.datasource, JAEGER_UID);
      assert.equal(filled.traces.queries[0]?.queryType, 'search');
      assert.equal(filled.traces.queries[0]?.datasource.uid, JAEGER_UID);
    }
  }
  assert.ok(links >= 10, `${links} trace links`);
});

test('provisioning names the data sources the dashboards use, with the collector as Jaeger', async () => {
  const ds = parse(await readFile(join(provisioning, 'datasources', 'meshlet.yaml'), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] };
  const byUid = new Map(ds.datasources.map((d) => [d.uid, d]));
  assert.equal(byUid.get(PROMETHEUS_UID)?.type, 'prometheus');
  assert.equal(byUid.get(JAEGER_UID)?.type, 'jaeger');
  assert.equal(byUid.get(JAEGER_UID)?.url, '${MESHLET_COLLECTOR_URL}');
  const dash = parse(await readFile(join(provisioning, 'dashboards', 'meshlet.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
  assert.equal(dash.providers[0]?.type, 'file');
});
