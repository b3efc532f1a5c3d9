// The dashboards against real data: Debian's Prometheus, started with deploy/prometheus' config and rules,
// scrapes a running mesh — three real `meshlet proxy` sidecars in front of tiny apps (frontend → payments →
// ledger), a real `meshlet collector` forwarding to a second one — while a bounded burst of traffic makes
// successes, app errors, proxy-made failures, retries, an exhausted retry budget, an ejected endpoint,
// dropped telemetry, calls without trace context and collector refusals. Then every panel query of every
// committed dashboard, with its variables filled in as Grafana would, must be valid and return data, and
// every trace link must find traces in the collector's Jaeger API.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EVENT_NAME_ATTR, INFRA_EVENTS, POD_ATTR, RESOURCE, type SidecarConfigInput } from '@meshlet/wire';
import { dashboardQueries, expandVariables, labelValuesQuery, panelLinks, type GrafanaDashboard } from '../grafana/src/walk.ts';
import { writeTargets } from '../prometheus/src/targets.ts';
import { DEPLOY, freePort, hostPort, http, meshletArgv, start, tempDir, waitFor, type HttpResult } from './helpers.ts';
import { hasFiniteSample, startPrometheus, type Prometheus, type PromResponse } from './prometheus.ts';

const SCRAPE_S = 1;
// What Grafana makes of $__rate_interval with a 1 s scrape interval and a short range: 4 scrapes.
const RATE_INTERVAL = `${4 * SCRAPE_S}s`;
const ROUNDS = 10; // one round of requests per second
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tiny app: fixed answers, and `/call[-noctx]/<service>/<path>` through its sidecar's outbound listener. */
function createApp(outbound: () => { host: string; port: number }): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const call = /^\/(call|call-noctx)\/([a-z0-9-]+)(\/.*)$/.exec(url.pathname);
    if (call !== null) {
      const headers: Record<string, string> = { host: call[2] as string };
      // A well-behaved app passes the trace context of the request it handles on to its own calls.
      if (call[1] === 'call' && typeof req.headers.traceparent === 'string') headers.traceparent = req.headers.traceparent;
      if (typeof req.headers['x-meshlet-fault'] === 'string') headers['x-meshlet-fault'] = req.headers['x-meshlet-fault'];
      http({ ...outbound(), path: `${call[3]}${url.search}`, headers })
        .then((r) => res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.body))
        .catch((err: Error) => res.writeHead(502).end(err.message));
      return;
    }
    const answers: Record<string, number> = { '/ok': 200, '/fail': 500, '/unavailable': 503 };
    if (url.pathname === '/slow') setTimeout(() => res.writeHead(200).end('slow'), 40);
    else res.writeHead(answers[url.pathname] ?? 404).end(url.pathname);
  });
}

async function listen(t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  server.closeIdleConnections();
  return (server.address() as AddressInfo).port;
}

interface Sidecar {
  inbound: string;
  outbound: string;
  admin: string;
}

async function startSidecar(t: TestContext, dir: string, config: SidecarConfigInput): Promise<Sidecar> {
  const file = join(dir, `${config.service}.sidecar.json`);
  await writeFile(file, JSON.stringify(config, null, 2));
  const p = await start(t, meshletArgv('proxy', '--config', file, '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--no-access-log'), {
    waitForListening: true,
  });
  return p.listening as unknown as Sidecar;
}

function otlpSpans(traceId: string, spanIds: string[], nowNs: bigint) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: RESOURCE.serviceName, value: { stringValue: 'deploy-test-client' } }] },
        scopeSpans: [
          {
            scope: { name: 'deploy-test' },
            spans: spanIds.map((spanId) => ({ traceId, spanId, name: 'test', kind: 2, startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 1_000_000n) })),
          },
        ],
      },
    ],
  };
}

interface Failure {
  where: string;
  expr: string;
  problem: string;
}

test('every panel query of every dashboard returns data from a real Prometheus scraping a running mesh', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t, 'meshlet-deploy-live-');
  const deadPort = await freePort(); // nothing listens here: connect_refused, failed exports

  // Collectors: the one the sidecars export to forwards everything to the next one.
  const next = await start(t, meshletArgv('collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', join(dir, 'next'), '--sync', 'normal'), { waitForListening: true });
  const collector = await start(
    t,
    meshletArgv('collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', join(dir, 'collector'), '--analysis-quiet', '500ms', '--sync', 'normal', '--max-queue', '2000', '--forward', `http://${next.listening.otlp}`),
    { waitForListening: true },
  );
  const otlpUrl = `http://${collector.listening.otlp}`;
  const collectorHttp = `http://${collector.listening.http}`;

  // Apps and their sidecars: frontend → payments (two endpoints, one dead) → ledger (exports to nowhere).
  const outbound: Record<string, { host: string; port: number }> = {};
  const appPort: Record<string, number> = {};
  for (const name of ['frontend', 'payments', 'ledger']) {
    appPort[name] = await listen(t, createApp(() => outbound[name] as { host: string; port: number }));
  }
  const ledger = await startSidecar(t, dir, { service: 'ledger', app: `127.0.0.1:${appPort.ledger}`, collector: `http://127.0.0.1:${deadPort}` });
  const payments = await startSidecar(t, dir, {
    service: 'payments',
    app: `127.0.0.1:${appPort.payments}`,
    collector: otlpUrl,
    destinations: { ledger: { endpoints: [{ address: ledger.inbound }] } },
  });
  const frontend = await startSidecar(t, dir, {
    service: 'frontend',
    app: `127.0.0.1:${appPort.frontend}`,
    collector: otlpUrl,
    testMode: true,
    destinations: {
      payments: {
        endpoints: [{ address: payments.inbound }, { address: `127.0.0.1:${deadPort}` }],
        retry: { maxRetries: 2, retryOn: ['connect_refused', 'app_error'] },
        // A small budget so the 503 bursts below exhaust it: 1 retry/s over 10 s.
        retryBudget: { ratio: 0, minRetriesPerSecond: 1, windowMs: 10_000 },
        // The dead endpoint is ejected after 2 failures and stays out for the whole test.
        outlier: { consecutiveFailures: 2, baseEjectionMs: 600_000, maxEjectionPercent: 50 },
      },
    },
  });
  outbound.frontend = hostPort(frontend.outbound);
  outbound.payments = hostPort(payments.outbound);
  outbound.ledger = hostPort(ledger.outbound);

  // Prometheus with the shipped config and rules; only targets, intervals and paths are the test's.
  const shipped = parse(await readFile(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; file_sd_configs?: unknown[]; static_configs?: unknown[] }[];
  };
  assert.deepEqual(shipped.scrape_configs.map((j) => j.job_name).sort(), ['meshlet-collector', 'meshlet-sidecars']);
  const targetsFile = join(dir, 'sidecars.json');
  const sidecars = { frontend, payments, ledger };
  await writeFile(
    targetsFile,
    JSON.stringify(Object.entries(sidecars).map(([service, s]) => ({ targets: [s.admin], labels: { service, pod: `${service}-1`, mesh: 'deploy-test' } }))),
  );
  const config = {
    ...shipped,
    global: { ...shipped.global, scrape_interval: `${SCRAPE_S}s`, scrape_timeout: `${SCRAPE_S}s`, evaluation_interval: `${SCRAPE_S}s` },
    rule_files: shipped.rule_files.map((f) => join(DEPLOY, 'prometheus', f)),
    scrape_configs: shipped.scrape_configs.map((job) =>
      job.job_name === 'meshlet-sidecars'
        ? { ...job, file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }] }
        : { ...job, static_configs: [{ targets: [collector.listening.http, next.listening.http] }] },
    ),
  };
  const prom = await startPrometheus(t, dir, config);
  await waitFor('all 5 targets up', async () => {
    const r = await prom.get<{ data: { activeTargets: { health: string }[] } }>('/api/v1/targets');
    return r.data.activeTargets.length === 5 && r.data.activeTargets.every((x) => x.health === 'up') ? true : undefined;
  });

  // Traffic: ROUNDS rounds, one per second, 22 requests each, all through frontend's sidecar.
  const fe = hostPort(frontend.inbound);
  const send = (path: string, headers: Record<string, string> = {}) =>
    http({ ...fe, path, headers: { host: 'frontend', ...headers } }).catch((err: Error): HttpResult => ({ status: 0, headers: {}, body: err.message }));
  const trafficStartS = Date.now() / 1000;
  const results: Record<string, HttpResult[]> = {};
  const record = async (kind: string, p: Promise<HttpResult>): Promise<void> => {
    (results[kind] ??= []).push(await p);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const roundStart = Date.now();
    const batch: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) batch.push(record('ok', send('/call/payments/ok')));
    batch.push(record('slow', send('/call/payments/slow')));
    for (let i = 0; i < 3; i++) batch.push(record('chain', send('/call/payments/call/ledger/ok')));
    batch.push(record('noctx', send('/call/payments/call-noctx/ledger/ok')));
    batch.push(record('chainFail', send('/call/payments/call/ledger/fail')));
    for (let i = 0; i < 2; i++) batch.push(record('fail', send('/call/payments/fail')));
    for (let i = 0; i < 4; i++) batch.push(record('unavailable', send('/call/payments/unavailable')));
    batch.push(record('unknown', send('/call/nosuch/ok')));
    batch.push(record('fault', send('/call/payments/ok', { 'x-meshlet-fault': 'service=payments, abort=503' })));
    await Promise.all(batch);
    await sleep(Math.max(0, 1000 - (Date.now() - roundStart)));
  }
  // The mesh did what the test relies on.
  const statuses = (kind: string) => (results[kind] ?? []).map((r) => r.status);
  assert.ok(statuses('ok').every((s) => s === 200), `ok: ${statuses('ok').join(',')}`);
  assert.ok(statuses('chain').every((s) => s === 200), `chain: ${statuses('chain').join(',')}`);
  assert.ok(statuses('fail').every((s) => s === 500), `fail: ${statuses('fail').join(',')}`);
  assert.ok(statuses('unavailable').every((s) => s === 503), `unavailable: ${statuses('unavailable').join(',')}`);
  assert.ok(statuses('unknown').every((s) => s === 404 || s === 502), `unknown: ${statuses('unknown').join(',')}`);
  assert.ok((results.fault ?? []).every((r) => r.status === 503), `fault: ${statuses('fault').join(',')}`);

  // The collector answers a malformed export with 400, refuses a batch larger than its queue (--max-queue
  // 2000, above any sidecar batch) with 503, and drops a duplicate span.
  const post = (body: unknown) => fetch(`${otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const malformed = await fetch(`${otlpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0x0a, 0xff, 0xff]) });
  assert.equal(malformed.status, 400);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const tooMany = await post(otlpSpans('6c9f0008a9149214e37ac744924fd71d', Array.from({ length: 2500 }, (_, i) => (i + 1).toString(16).padStart(16, '0')), nowNs));
  assert.equal(tooMany.status, 503);
  const dup = otlpSpans('5b8efff798038103d269b633813fc60c', ['eee19b7ec3c1b174'], nowNs);
  for (let i = 0; i < 2; i++) {
    assert.equal((await post(dup)).status, 200);
  }

  // Wait for what arrives late: ledger's failed exports, forwarding, the analysed traces.
  const scalar = async (expr: string) => Number((await prom.query(expr, Date.now() / 1000)).data?.result[0]?.value?.[1] ?? NaN);
  await waitFor('ledger drops spans', async () => ((await scalar('sum(meshlet_telemetry_dropped_total{service="ledger"})')) > 0 ? true : undefined), 60_000, 1000);
  await waitFor('forwarding', async () => ((await scalar('sum(meshlet_collector_forwarded_requests_total)')) > 0 ? true : undefined), 30_000, 1000);
  await waitFor('analysed traces', async () => ((await scalar('sum(meshlet_collector_traces_analysed_total)')) > 0 ? true : undefined), 30_000, 1000);
  await sleep(3 * SCRAPE_S * 1000); // a few more scrapes of the final values
  const endS = Date.now() / 1000;
  const startS = trafficStartS - 5;
  const builtins = { __rate_interval: RATE_INTERVAL, __interval: `${SCRAPE_S}s`, __range: `${Math.ceil(endS - startS)}s` };

  // Every dashboard, every variable, every query.
  const failures: Failure[] = [];
  const dashboardsDir = join(DEPLOY, 'grafana', 'dashboards');
  const files = (await readdir(dashboardsDir)).filter((f) => f.endsWith('.json')).sort();
  assert.equal(files.length, 4);
  let queries = 0;
  const resultsByPanel = new Map<string, PromResponse>();
  for (const file of files) {
    const d = JSON.parse(await readFile(join(dashboardsDir, file), 'utf8')) as GrafanaDashboard;
    const values = await resolveVariables(prom, d, startS, endS, failures);
    for (const q of dashboardQueries(d)) {
      queries++;
      const expr = expandVariables(q.expr, { ...values, ...builtins });
      const where = `${d.title} / ${q.panel} / ${q.refId}`;
      if (expr.includes('$')) {
        failures.push({ where, expr, problem: 'a variable was left unexpanded' });
        continue;
      }
      const r = q.instant ? await prom.query(expr, endS) : await prom.queryRange(expr, startS, endS, SCRAPE_S);
      if (r.status !== 'success') failures.push({ where, expr, problem: `${r.errorType}: ${r.error}` });
      else if (!hasFiniteSample(r)) failures.push({ where, expr, problem: 'no data' });
      if (!resultsByPanel.has(`${d.title}/${q.panel}`)) resultsByPanel.set(`${d.title}/${q.panel}`, r);
    }

    // Trace links: fill the link's variables from a series the panel shows, then search the Jaeger API.
    for (const link of panelLinks(d)) {
      const r = resultsByPanel.get(`${d.title}/${link.panel}`);
      const where = `${d.title} / ${link.panel} / link "${link.title}"`;
      const search = linkSearch(link.url, values, r, startS, endS);
      if (typeof search === 'string') {
        failures.push({ where, expr: link.url, problem: search });
        continue;
      }
      const res = await fetch(`${collectorHttp}/api/traces?${search.toString()}`);
      const body = (await res.json()) as { data?: unknown[] };
      if (res.status !== 200 || (body.data ?? []).length === 0) failures.push({ where, expr: search.toString(), problem: `Jaeger API: ${res.status}, ${(body.data ?? []).length} traces` });
    }
  }
  assert.ok(queries >= 60, `${queries} queries`);

  // The Jaeger data source's span → metrics queries (provisioning), with $__tags as Grafana fills it in.
  const ds = parse(await readFile(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'meshlet.yaml'), 'utf8')) as {
    datasources: { uid: string; jsonData?: { tracesToMetrics?: { queries: { name: string; query: string }[] } } }[];
  };
  for (const q of ds.datasources.find((x) => x.uid === 'meshlet-jaeger')?.jsonData?.tracesToMetrics?.queries ?? []) {
    const expr = q.query.replaceAll('$$__tags', 'destination="payments"');
    const r = await prom.query(expr, endS);
    if (r.status !== 'success' || !hasFiniteSample(r)) failures.push({ where: `tracesToMetrics / ${q.name}`, expr, problem: r.error ?? 'no data' });
  }

  assert.deepEqual(failures, [], failures.map((f) => `${f.where}: ${f.problem}\n  ${f.expr}`).join('\n'));

  // The rules evaluate without errors, and the burst fired the alerts it should.
  const rules = await prom.get<{ data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }>('/api/v1/rules');
  const bad = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
  assert.deepEqual(bad, []);
  const expected = ['MeshletCollectorRefusing', 'MeshletContextNotPropagated', 'MeshletRetryBudgetExhausted'];
  let firing: string[] = [];
  await waitFor(`alerts ${expected.join(', ')} firing`, async () => {
    const a = await prom.get<{ data: { alerts: { labels: Record<string, string>; state: string }[] } }>('/api/v1/alerts');
    firing = [...new Set(a.data.alerts.filter((x) => x.state === 'firing').map((x) => x.labels.alertname as string))].sort();
    return expected.every((name) => firing.includes(name)) ? true : undefined;
  }, 15_000).catch((err: Error) => assert.fail(`${err.message}; firing: ${firing.join(', ')}`));

  await t.test('the targets file for the local runtime comes from the collector\'s mesh view', async () => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const snapshot = {
      resourceLogs: [
        {
          resource: { attributes: [str(RESOURCE.serviceName, 'orders'), str(RESOURCE.mesh, 'shop'), str(RESOURCE.pod, 'orders-1'), str(RESOURCE.podIp, '10.77.0.5'), str(RESOURCE.serviceVersion, 'v2')] },
          scopeLogs: [
            {
              scope: { name: 'meshlet-runtime' },
              logRecords: [
                { timeUnixNano: String(nowNs), observedTimeUnixNano: String(nowNs), severityNumber: 9, body: { stringValue: 'pod status' }, attributes: [str(EVENT_NAME_ATTR, INFRA_EVENTS.status), str(POD_ATTR.state, 'running')] },
              ],
            },
          ],
        },
      ],
    };
    const posted = await fetch(`${otlpUrl}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(snapshot) });
    assert.equal(posted.status, 200);
    const out = join(dir, 'targets.json');
    const groups = await writeTargets(collectorHttp, out);
    assert.deepEqual(groups, [{ targets: ['10.77.0.5:15000'], labels: { service: 'orders', pod: 'orders-1', mesh: 'shop', version: 'v2' } }]);
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), groups);
  });
});

/** Values of a dashboard's query variables from Prometheus (`label_values`): All for multi-value ones. */
async function resolveVariables(prom: Prometheus, d: GrafanaDashboard, startS: number, endS: number, failures: Failure[]): Promise<Record<string, string | string[]>> {
  const values: Record<string, string | string[]> = {};
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const lv = labelValuesQuery(v);
    if (lv === null) {
      failures.push({ where: `${d.title} / variable ${v.name}`, expr: JSON.stringify(v.query), problem: 'not a label_values() query' });
      continue;
    }
    const selector = expandVariables(lv.selector, values);
    const r = await prom.get<{ status: string; data: string[] }>(`/api/v1/label/${lv.label}/values`, { 'match[]': selector, start: String(startS), end: String(endS) });
    if (r.status !== 'success' || r.data.length === 0) {
      failures.push({ where: `${d.title} / variable ${v.name}`, expr: selector, problem: 'no values' });
      continue;
    }
    if (v.includeAll === true) values[v.name] = v.allValue ?? r.data;
    else if (v.name === 'service') {
      // payments is the service in the middle: it serves, calls, is retried to, has an ejected endpoint.
      if (!r.data.includes('payments')) failures.push({ where: `${d.title} / variable service`, expr: selector, problem: `values ${r.data.join(',')}` });
      values[v.name] = 'payments';
    } else values[v.name] = r.data[0] as string;
  }
  return values;
}

/** Labels of the series a link is followed from: the most typical one (payments, app errors, frontend). */
const PREFERRED: Record<string, string> = { destination: 'payments', reason: 'app_error', source: 'frontend', service: 'frontend' };

/**
 * Turns a trace link (Grafana Explore URL with a Jaeger search) into the Jaeger API query Grafana would
 * make, filling `${__field.labels.X}` from the panel's series; a string says why it cannot.
 */
function linkSearch(url: string, values: Record<string, string | string[]>, r: PromResponse | undefined, startS: number, endS: number): URLSearchParams | string {
  const needed = [...url.matchAll(/\$\{__field\.labels\.([a-zA-Z_]+)/g)].map((m) => m[1] as string);
  let labels: Record<string, string> = {};
  if (needed.length > 0) {
    const series = (r?.data?.result ?? []).map((s) => s.metric).filter((m) => needed.every((n) => m[n] !== undefined));
    const score = (m: Record<string, string>) => needed.filter((n) => PREFERRED[n] === m[n]).length;
    const best = series.sort((a, b) => score(b) - score(a))[0];
    if (best === undefined) return `no series with labels ${needed.join(', ')}`;
    labels = best;
  }
  const filled = url.replace(/\$\{([^}:]+)(?::[a-z]+)?\}/g, (whole, name: string) => {
    if (name.startsWith('__field.labels.')) return encodeURIComponent(labels[name.slice('__field.labels.'.length)] ?? '');
    if (name === '__from') return String(Math.floor(startS * 1000));
    if (name === '__to') return String(Math.ceil(endS * 1000));
    const v = values[name];
    return typeof v === 'string' ? encodeURIComponent(v) : whole;
  });
  if (filled.includes('${')) return `unfilled variable in ${filled}`;
  const panes = JSON.parse(new URL(filled, 'http://grafana').searchParams.get('panes') ?? '{}') as Record<string, { queries: { service: string; tags?: string; limit?: number }[] }>;
  const q = Object.values(panes)[0]?.queries[0];
  if (q === undefined) return 'no query in the link';
  // Grafana's Jaeger data source sends logfmt tags as a JSON object.
  const tags = Object.fromEntries((q.tags ?? '').split(' ').filter((kv) => kv !== '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const search = new URLSearchParams({ service: q.service, start: String(Math.floor(startS * 1e6)), end: String(Math.ceil(endS * 1e6)), limit: String(q.limit ?? 20) });
  if (Object.keys(tags).length > 0) search.set('tags', JSON.stringify(tags));
  return search;
}
