// The query API of wire/query-api.ts over real sockets: graph, failures, services, trace detail with logs and
// runtime events, mesh, load-test runs, the live stream, bad parameters, and the UI.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ATTR,
  INFRA_EVENTS,
  LOADTEST_ATTR,
  POD_ATTR,
  QUERY_API,
  type FailuresResponse,
  type GraphResponse,
  type LogsResponse,
  type MeshResponse,
  type RunDetail,
  type RunsResponse,
  type ServicesResponse,
  type TraceDetail,
} from '@meshlet/wire';
import { encodeLogsRequest, encodeTraceRequest } from '../src/otlp/encode.ts';
import type { LogRecordData, ResourceRecord } from '../src/otlp/model.ts';
import { shopTrace, type Scenario } from './fixtures/shop.ts';
import { seededRandom, sidecarResource } from './fixtures/trace-builder.ts';
import { body as toBody, getJson, startCollector, tempDir, waitFor } from './helpers.ts';

const PROTO = { 'content-type': 'application/x-protobuf' };

async function send(otlp: string, path: '/v1/traces' | '/v1/logs', body: Buffer): Promise<void> {
  const res = await fetch(`${otlp}${path}`, { method: 'POST', body: toBody(body), headers: PROTO });
  assert.equal(res.status, 200);
}

function runtimeLog(resource: ResourceRecord, event: string, atMs: number, attributes: LogRecordData['attributes'] = {}): LogRecordData {
  return {
    timeUnixNano: BigInt(Math.round(atMs)) * 1_000_000n,
    observedTimeUnixNano: 0n,
    severityNumber: 13,
    severityText: 'WARN',
    body: `${event}`,
    attributes: { 'event.name': event, ...attributes },
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
    resource: { ...resource, attributes: { ...resource.attributes, 'meshlet.component': 'runtime' } },
    scope: { name: 'meshlet-runtime', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' },
  };
}

test('graph, failure points, services and trace search over a shop with every kind of failure', async (t) => {
  const c = await startCollector(t);
  const random = seededRandom(21);
  const scenarios: Scenario[] = ['ok', 'ok', 'ok', 'pricing-app-error', 'pricing-app-error', 'inventory-refused', 'payments-retry-recovered', 'catalog-timeout', 'payments-no-endpoints', 'cart-fault-injected'];
  const traces = scenarios.map((s) => shopTrace(s, { random }));
  await send(c.otlp, '/v1/traces', encodeTraceRequest(traces.flatMap((x) => x.spans)));
  const failures = await waitFor(async () => {
    const r = await getJson<FailuresResponse>(`${c.http}${QUERY_API.failures}`);
    return r.body.points.length === 5 ? r.body : undefined;
  });
  const top = failures.points[0]!;
  assert.deepEqual([top.id, top.service, top.reason, top.origin, top.count], ['pricing|GET /price|app_error', 'pricing', 'app_error', 'app', 2]);
  assert.equal(top.exampleTraceIds.length, 2);
  assert.deepEqual(top.entryOperations, [{ service: 'gateway', operation: 'GET /products', count: 2 }]);
  assert.deepEqual(top.propagatedBy.sort(), ['catalog', 'gateway']);
  assert.equal(top.message, 'price table missing');
  assert.equal(top.series.counts.reduce((a, b) => a + b, 0), 2);
  const ids = failures.points.map((p) => `${p.service}:${p.reason}`).sort();
  assert.deepEqual(ids, ['cart:fault_injected', 'catalog:request_timeout', 'inventory:connect_refused', 'payments:no_endpoints', 'pricing:app_error']);

  const byReason = await getJson<FailuresResponse>(`${c.http}${QUERY_API.failures}?reason=no_endpoints`);
  assert.deepEqual(byReason.body.points.map((p) => p.service), ['payments']);

  const graph = (await getJson<GraphResponse>(`${c.http}${QUERY_API.graph}`)).body;
  const edge = (id: string) => graph.edges.find((e) => e.id === id);
  assert.deepEqual(graph.edges.map((e) => e.id), ['cart->payments', 'catalog->inventory', 'catalog->pricing', 'gateway->cart', 'gateway->catalog']);
  assert.equal(edge('gateway->catalog')?.requests, 7);
  assert.equal(edge('catalog->pricing')?.originFailures, 2);
  assert.deepEqual(edge('cart->payments')?.reasons, { connect_refused: 1, no_endpoints: 1 });
  assert.equal(edge('cart->payments')?.retries, 1);
  assert.equal(edge('cart->payments')?.recovered, 1);
  const node = (s: string) => graph.nodes.find((n) => n.service === s)!;
  assert.equal(node('gateway').entry, true);
  assert.equal(node('catalog').entry, false);
  assert.equal(node('pricing').originFailures, 2);
  assert.ok(node('catalog').propagatedFailures >= 3);
  assert.equal(node('gateway').requests, 10);
  assert.ok(node('pricing').p99Ms > 0);

  const services = (await getJson<ServicesResponse>(`${c.http}${QUERY_API.services}`)).body;
  assert.deepEqual(services.services.map((s) => s.name), ['cart', 'catalog', 'gateway', 'inventory', 'payments', 'pricing']);
  assert.ok(services.services.find((s) => s.name === 'catalog')?.versions.includes('blue'));

  const slow = await getJson<{ traces: { traceId: string }[] }>(`${c.http}${QUERY_API.traces}?minDurationMs=200ms`);
  assert.deepEqual(slow.body.traces.map((x) => x.traceId), [traces[7]!.spans[0]!.traceId]);
  const byAttr = await getJson<{ traces: unknown[] }>(`${c.http}${QUERY_API.traces}?attr=${encodeURIComponent('meshlet.pod.name=payments-2')}`);
  assert.equal(byAttr.body.traces.length, 1);
  const byOp = await getJson<{ traces: unknown[]; truncated: boolean }>(`${c.http}${QUERY_API.traces}?service=cart&operation=${encodeURIComponent('POST /cart/checkout')}&limit=1`);
  assert.equal(byOp.body.traces.length, 1);
  assert.equal(byOp.body.truncated, true);
});

test('bad query parameters get 400 naming the parameter; unknown traces 404', async (t) => {
  const c = await startCollector(t);
  for (const [query, param] of [
    ['/api/v1/traces?status=broken', 'status'],
    ['/api/v1/traces?limit=0', 'limit'],
    ['/api/v1/traces?minDurationMs=fast', 'minDurationMs'],
    ['/api/v1/graph?from=10&to=5', 'from'],
    ['/api/v1/failures?reason=gremlins', 'reason'],
    ['/api/v1/traces?attr=novalue', 'attr'],
    ['/api/v1/traces/xyz', 'traceId'],
  ] as const) {
    const r = await getJson<{ error: string; code: string; param: string }>(`${c.http}${query}`);
    assert.equal(r.status, 400, query);
    assert.equal(r.body.code, 'ERR_COLLECTOR_BAD_PARAM');
    assert.equal(r.body.param, param);
  }
  const missing = await getJson<{ code: string }>(`${c.http}/api/v1/traces/${'a'.repeat(32)}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'ERR_COLLECTOR_NOT_FOUND');
  assert.equal((await fetch(`${c.http}/api/v1/nothing`)).status, 404);
  assert.equal((await fetch(`${c.http}/api/v1/graph`, { method: 'POST' })).status, 405);
});

test('trace detail carries its logs and the runtime events of its pods (±5 s); the mesh view shows pods', async (t) => {
  const c = await startCollector(t);
  const now = Date.now();
  const trace = shopTrace('pricing-app-error', { random: seededRandom(22), startNs: BigInt(now) * 1_000_000n });
  const pricing = trace.spans.find((s) => s.resource.attributes['service.name'] === 'pricing')!;
  const appLog: LogRecordData = {
    ...runtimeLog(pricing.resource, '', now + 5),
    attributes: {},
    body: 'price table missing for sku 42',
    severityNumber: 17,
    severityText: 'ERROR',
    traceId: pricing.traceId,
    spanId: pricing.spanId,
  };
  const pod = sidecarResource('pricing', 'pricing-1');
  const events = [
    runtimeLog(pod, INFRA_EVENTS.restarted, now + 2_000, { [POD_ATTR.restarts]: 1, [POD_ATTR.restartReason]: 'exit' }),
    runtimeLog(pod, INFRA_EVENTS.oomKilled, now - 60_000), // far outside the trace
    runtimeLog(sidecarResource('catalog', 'catalog-blue-1'), INFRA_EVENTS.status, now - 4_000, { [POD_ATTR.state]: 'running', [POD_ATTR.healthStatus]: 'healthy', [POD_ATTR.cpuSeconds]: 1.0, [POD_ATTR.restarts]: 0 }),
    runtimeLog(sidecarResource('catalog', 'catalog-blue-1'), INFRA_EVENTS.status, now - 2_000, { [POD_ATTR.state]: 'running', [POD_ATTR.healthStatus]: 'healthy', [POD_ATTR.cpuSeconds]: 1.5, [POD_ATTR.memoryBytes]: 1048576, [POD_ATTR.veth]: 'vethab12', [POD_ATTR.restarts]: 0 }),
    runtimeLog(pod, INFRA_EVENTS.status, now - 1_000, { [POD_ATTR.state]: 'restarting', [POD_ATTR.healthStatus]: 'unhealthy', [POD_ATTR.restarts]: 1 }),
  ];
  await send(c.otlp, '/v1/traces', encodeTraceRequest(trace.spans));
  await send(c.otlp, '/v1/logs', encodeLogsRequest([appLog, ...events]));
  const detail = (await getJson<TraceDetail>(`${c.http}${QUERY_API.trace(pricing.traceId)}`)).body;
  assert.deepEqual(detail.logs.map((l) => [l.body, l.spanId, l.service, l.severityNumber]), [['price table missing for sku 42', pricing.spanId, 'pricing', 17]]);
  assert.deepEqual(detail.events.map((e) => [e.eventName, e.pod, e.attributes[POD_ATTR.restarts]]), [[INFRA_EVENTS.restarted, 'pricing-1', 1]]);
  assert.deepEqual(detail.criticalPath[0], trace.spans[0]!.spanId);

  const mesh = (await getJson<MeshResponse>(`${c.http}${QUERY_API.mesh}`)).body;
  assert.deepEqual(mesh.pods.map((p) => [p.pod, p.service, p.state, p.health, p.restarts]), [
    ['catalog-blue-1', 'catalog', 'running', 'healthy', 0],
    ['pricing-1', 'pricing', 'restarting', 'unhealthy', 1],
  ]);
  const catalog = mesh.pods[0]!;
  assert.equal(catalog.cpuCores, 0.25);
  assert.equal(catalog.veth, 'vethab12');
  assert.equal(catalog.mesh, 'shop');
  assert.ok(mesh.events.some((e) => e.eventName === INFRA_EVENTS.restarted));
  assert.ok(!mesh.events.some((e) => e.eventName === INFRA_EVENTS.status));

  const logs = (await getJson<LogsResponse>(`${c.http}${QUERY_API.logs}?eventName=${INFRA_EVENTS.oomKilled}&lookbackMs=120000`)).body;
  assert.equal(logs.logs.length, 1);
  const byTrace = (await getJson<LogsResponse>(`${c.http}${QUERY_API.logs}?traceId=${pricing.traceId}`)).body;
  assert.equal(byTrace.logs.length, 1);
});

test('trace detail also carries the events of a callee that left no span (its pod was down: no_endpoints)', async (t) => {
  const c = await startCollector(t);
  const now = Date.now();
  const trace = shopTrace('payments-no-endpoints', { random: seededRandom(5), startNs: BigInt(now) * 1_000_000n });
  assert.ok(!trace.spans.some((s) => s.resource.attributes['service.name'] === 'payments'), 'payments has no span in this trace');
  const payments = sidecarResource('payments', 'payments-1');
  await send(c.otlp, '/v1/traces', encodeTraceRequest(trace.spans));
  await send(c.otlp, '/v1/logs', encodeLogsRequest([runtimeLog(payments, INFRA_EVENTS.restarted, now + 1_000, { [POD_ATTR.restarts]: 1, [POD_ATTR.restartReason]: 'exit' })]));
  const detail = (await getJson<TraceDetail>(`${c.http}${QUERY_API.trace(trace.spans[0]!.traceId)}`)).body;
  assert.deepEqual(detail.events.map((e) => [e.eventName, e.pod]), [[INFRA_EVENTS.restarted, 'payments-1']]);
});

test('load-test runs from meshlet.run spans and loadtest events, with a baseline diff', async (t) => {
  const c = await startCollector(t);
  const random = seededRandom(23);
  const start = Date.now() - 10_000;
  const spans = [];
  for (let i = 0; i < 20; i++) {
    spans.push(...shopTrace(i % 5 === 0 ? 'pricing-app-error' : 'ok', { random, run: 'run-b', startNs: BigInt(start + i * 100) * 1_000_000n }).spans);
    spans.push(...shopTrace('ok', { random, run: 'run-a', startNs: BigInt(start - 5_000 + i * 100) * 1_000_000n }).spans);
  }
  await send(c.otlp, '/v1/traces', encodeTraceRequest(spans));
  const bench = { attributes: { 'service.name': 'meshlet-bench', 'meshlet.component': 'loadtest' }, droppedAttributesCount: 0, schemaUrl: '' };
  await send(c.otlp, '/v1/logs', encodeLogsRequest([
    runtimeLog(bench, INFRA_EVENTS.loadTestStarted, start - 100, { [ATTR.run]: 'run-b', [LOADTEST_ATTR.name]: 'checkout spike' }),
    runtimeLog(bench, INFRA_EVENTS.loadTestFinished, start + 2_500, { [ATTR.run]: 'run-b', [LOADTEST_ATTR.thresholdsPassed]: false }),
  ]));
  const runs = await waitFor(async () => {
    const r = await getJson<RunsResponse>(`${c.http}${QUERY_API.runs}`);
    return r.body.runs.length === 2 && r.body.runs.every((x) => x.requests === 20) ? r.body : undefined;
  });
  assert.deepEqual(runs.runs.map((r) => [r.runId, r.requests, r.errors, r.name, r.thresholdsPassed]), [
    ['run-b', 20, 4, 'checkout spike', false],
    ['run-a', 20, 0, undefined, undefined],
  ]);
  const detail = (await getJson<RunDetail>(`${c.http}${QUERY_API.run('run-b')}?baseline=run-a`)).body;
  assert.equal(detail.errorsByReason.app_error, 4);
  assert.equal(detail.series.reduce((a, s) => a + s.requests, 0), 20);
  assert.deepEqual(detail.failures.map((f) => [f.service, f.count]), [['pricing', 4]]);
  assert.ok(detail.graph.edges.length >= 3);
  assert.equal(detail.diff?.errorRateDelta, 0.2);
  const traces = await getJson<{ traces: { runId?: string }[] }>(`${c.http}${QUERY_API.traces}?run=run-a&lookbackMs=3600000`);
  assert.equal(traces.body.traces.length, 20);
  assert.ok(traces.body.traces.every((x) => x.runId === 'run-a'));
  assert.equal((await fetch(`${c.http}${QUERY_API.run('nope')}`)).status, 404);
});

test('the live stream sends new failed traces, grown failure points and graph changes as SSE', async (t) => {
  const c = await startCollector(t);
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(`${c.http}${QUERY_API.stream}`, { signal: controller.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const seen = new Map<string, unknown[]>();
  let buffer = '';
  const pump = (async () => {
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done === true) return;
      buffer += decoder.decode(value, { stream: true });
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event !== undefined && data !== undefined) seen.set(event, [...(seen.get(event) ?? []), JSON.parse(data)]);
      }
    }
  })();
  await send(c.otlp, '/v1/traces', encodeTraceRequest(shopTrace('inventory-refused', { random: seededRandom(24) }).spans));
  await waitFor(() => seen.has('trace') && seen.has('failure') && seen.has('graph'));
  const failure = seen.get('failure')![0] as { service: string; reason: string };
  assert.deepEqual([failure.service, failure.reason], ['inventory', 'connect_refused']);
  const trace = seen.get('trace')![0] as { status: string };
  assert.equal(trace.status, 'error');
  const graph = seen.get('graph')![0] as GraphResponse;
  assert.ok(graph.edges.some((e) => e.id === 'catalog->inventory'));
  controller.abort();
  await pump;
});

test('serves the built UI with an SPA fallback, and says how to build it when missing', async (t) => {
  const ui = tempDir(t, 'meshlet-ui-');
  mkdirSync(join(ui, 'assets'));
  writeFileSync(join(ui, 'index.html'), '<!doctype html><title>meshlet</title>');
  writeFileSync(join(ui, 'assets', 'app-1a2b3c4d5e.js'), 'console.log(1)');
  const c = await startCollector(t, {}, ui);
  const index = await fetch(`${c.http}/`);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await index.text(), '<!doctype html><title>meshlet</title>');
  const asset = await fetch(`${c.http}/assets/app-1a2b3c4d5e.js`);
  assert.equal(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  const route = await fetch(`${c.http}/traces/abc?x=1`);
  assert.equal(await route.text(), '<!doctype html><title>meshlet</title>');
  const escape = await fetch(`${c.http}/..%2f..%2fetc%2fpasswd`);
  assert.equal(await escape.text(), '<!doctype html><title>meshlet</title>');

  const bare = await startCollector(t);
  const page = await (await fetch(`${bare.http}/`)).text();
  assert.match(page, /UI not built: run npm run build/);
});
