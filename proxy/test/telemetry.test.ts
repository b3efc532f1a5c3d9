// Metrics (promtool-valid, bounded cardinality), the access log, and the "does not propagate context" report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { ATTR } from '@meshlet/wire';
import { get, startCollector, startServer, startSidecar } from './helpers.ts';

const run = promisify(execFile);

test('an app that drops the trace context is reported (span attribute and metric)', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const payments = await startServer((_req, res) => res.end('paid'));
  t.after(() => payments.close());
  const paymentsSidecar = await startSidecar({ service: 'payments', app: payments.address });
  t.after(() => paymentsSidecar.close());
  let outbound = '';
  // This app calls payments without passing traceparent on.
  const orders = await startServer(async (_req, res) => {
    const r = await request(`http://${outbound}/`, { headers: { host: 'payments' } });
    res.end(await r.body.text());
  });
  t.after(() => orders.close());
  const sc = await startSidecar(
    { service: 'orders', app: orders.address, collector: collector.url, destinations: { payments: { endpoints: [{ address: paymentsSidecar.inbound }] } } },
    { tracerOptions: { flushIntervalMs: 50 } },
  );
  t.after(() => sc.close());
  outbound = sc.outbound;
  assert.equal((await get(`http://${sc.inbound}/`, { host: 'orders' })).text, 'paid');
  const [span] = await collector.waitFor((s) => s.kind === 3 && s.attributes[ATTR.retryAttempt] === undefined);
  assert.equal(span?.attributes[ATTR.contextPropagated], false);
  assert.match(await sc.sidecar.metrics().render(), /meshlet_context_not_propagated_total\{destination="payments"\} 1/);
  // A call with no inbound request in flight (a cron job, a load generator) is not judged.
  const direct = await get(`http://${sc.outbound}/`, { host: 'payments' });
  assert.equal(direct.status, 200);
  const spans = await collector.waitFor((s) => s.kind === 3 && s.attributes[ATTR.retryAttempt] === undefined, 2);
  assert.equal(spans.filter((s) => s.attributes[ATTR.contextPropagated] === undefined).length, 1);
});

test('/metrics passes promtool, and routes past the budget go to the overflow bucket', async (t) => {
  const app = await startServer((_req, res) => res.end('ok'));
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'api', app: app.address });
  t.after(() => sc.close());
  for (let i = 0; i < 250; i += 25) await Promise.all(Array.from({ length: 25 }, (_, j) => get(`http://${sc.inbound}/r${i + j}/x`, { host: 'api' })));
  await get(`http://${sc.inbound}/orders/123`, { host: 'api' });
  const text = (await get(`http://${sc.admin}/metrics`)).text;
  const routes = new Set([...text.matchAll(/meshlet_requests_total\{[^}]*route="([^"]*)"/g)].map((m) => m[1]));
  assert.ok(routes.size <= 201, `${routes.size} route values`);
  assert.ok(routes.has('__overflow__'));
  for (const name of ['meshlet_requests_total', 'meshlet_request_duration_seconds_bucket', 'meshlet_requests_in_flight', 'meshlet_telemetry_dropped_total', 'meshlet_retries_total', 'meshlet_retry_budget_exhausted_total', 'meshlet_outlier_ejections_total', 'meshlet_process_resident_memory_bytes']) {
    assert.match(text, new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'), name);
  }
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'metrics.txt');
  await writeFile(file, text);
  // promtool reads the exposition on stdin; lint problems and parse errors exit non-zero.
  const { stdout, stderr } = await run('bash', ['-c', `promtool check metrics < ${file}`]).catch((err: { stdout: string; stderr: string }) => {
    assert.fail(`promtool check metrics failed:\n${err.stdout}\n${err.stderr}`);
  });
  assert.equal(`${stdout}${stderr}`.trim(), '');
});

test('access log: one JSON line per request with trace ids and reason', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-access-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'access.log');
  const app = await startServer((_req, res) => res.end('ok'));
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'api', app: app.address, telemetry: { accessLog: true }, destinations: { ghost: { endpoints: [] } } }, { accessLogDestination: file });
  await get(`http://${sc.inbound}/hello`, { host: 'api', 'x-request-id': 'abc' });
  await get(`http://${sc.outbound}/`, { host: 'ghost' });
  await sc.close();
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.msg, 'access');
  assert.equal(lines[0]?.requestId, 'abc');
  assert.equal(lines[0]?.status, 200);
  assert.match(String(lines[0]?.traceId), /^[0-9a-f]{32}$/);
  assert.match(String(lines[0]?.spanId), /^[0-9a-f]{16}$/);
  assert.equal(lines[1]?.reason, 'no_endpoints');
  assert.equal(lines[1]?.status, 503);
});
