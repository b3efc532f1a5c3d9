// The span shape of wire/attributes.ts, exported for real as OTLP/HTTP protobuf to a collector on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTR, RESOURCE } from '@meshlet/wire';
import { get, startCollector, startServer, startSidecar } from './helpers.ts';
import { request } from 'undici';

const SERVER = 2;
const CLIENT = 3;
const fast = { tracerOptions: { flushIntervalMs: 50 } };

test('SERVER → CLIENT request → CLIENT attempt → SERVER, with meshlet attributes and resource', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  // The "payments" app; the "orders" app calls payments through its own outbound sidecar, forwarding traceparent.
  const payments = await startServer((req, res) => res.end(req.headers.traceparent));
  t.after(() => payments.close());
  const paymentsSidecar = await startSidecar({ service: 'payments', app: payments.address, collector: collector.url, pod: 'payments-1', serviceVersion: 'v2' }, fast);
  t.after(() => paymentsSidecar.close());
  let ordersOutbound = '';
  const orders = await startServer(async (req, res) => {
    const r = await request(`http://${ordersOutbound}/charge`, { headers: { host: 'payments', traceparent: req.headers.traceparent as string } });
    res.end(await r.body.text());
  });
  t.after(() => orders.close());
  const ordersSidecar = await startSidecar(
    { service: 'orders', app: orders.address, collector: collector.url, pod: 'orders-1', destinations: { payments: { endpoints: [{ address: paymentsSidecar.inbound }] } } },
    fast,
  );
  t.after(() => ordersSidecar.close());
  ordersOutbound = ordersSidecar.outbound;

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await get(`http://${ordersSidecar.inbound}/checkout`, { host: 'orders', traceparent: `00-${traceId}-00f067aa0ba902b7-01`, baggage: 'meshlet.run=run-7,other=1' });
  assert.equal(res.status, 200);

  const spans = await collector.waitFor((s) => s.traceId === traceId, 4);
  const ordersServer = spans.find((s) => s.kind === SERVER && s.resource[RESOURCE.serviceName] === 'orders');
  const request_ = spans.find((s) => s.kind === CLIENT && s.attributes[ATTR.retryAttempt] === undefined);
  const attempt = spans.find((s) => s.kind === CLIENT && s.attributes[ATTR.retryAttempt] === 1);
  const paymentsServer = spans.find((s) => s.kind === SERVER && s.resource[RESOURCE.serviceName] === 'payments');
  assert.ok(ordersServer && request_ && attempt && paymentsServer, 'four spans');
  assert.equal(ordersServer.parentSpanId, '00f067aa0ba902b7');
  assert.equal(request_.parentSpanId, ordersServer.spanId, 'the app forwarded the SERVER span id');
  assert.equal(attempt.parentSpanId, request_.spanId);
  assert.equal(paymentsServer.parentSpanId, attempt.spanId, 'the attempt span id went upstream');
  assert.equal(res.text, `00-${traceId}-${paymentsServer.spanId}-01`, 'the app sees its SERVER span as parent');
  assert.equal(attempt.attributes[ATTR.peerService], 'payments');
  assert.equal(attempt.attributes[ATTR.peerEndpoint], paymentsSidecar.inbound);
  assert.equal(request_.attributes[ATTR.contextPropagated], true);
  assert.equal(paymentsServer.attributes[ATTR.peerService], 'orders');
  assert.equal(ordersServer.attributes[ATTR.run], 'run-7');
  assert.equal(paymentsServer.attributes[ATTR.httpStatus], 200);
  assert.equal(paymentsServer.resource[RESOURCE.component], 'sidecar');
  assert.equal(paymentsServer.resource[RESOURCE.pod], 'payments-1');
  assert.equal(paymentsServer.resource[RESOURCE.serviceVersion], 'v2');
  assert.equal(paymentsServer.resource[RESOURCE.mesh], 'meshlet');
});

test('error spans carry reason and origin; app 5xx is origin app', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const app = await startServer((_req, res) => res.writeHead(503).end('down'));
  t.after(() => app.close());
  const callee = await startSidecar({ service: 'payments', app: app.address, collector: collector.url }, fast);
  t.after(() => callee.close());
  const caller = await startSidecar(
    { service: 'orders', app: null, collector: collector.url, destinations: { payments: { endpoints: [{ address: callee.inbound }], retry: { maxRetries: 0 } }, ghost: { endpoints: [] } } },
    fast,
  );
  t.after(() => caller.close());
  const r1 = await get(`http://${caller.outbound}/`, { host: 'payments' });
  assert.equal(r1.status, 503);
  const server = (await collector.waitFor((s) => s.kind === SERVER && s.attributes[ATTR.errorReason] === 'app_error'))[0];
  assert.equal(server?.attributes[ATTR.errorOrigin], 'app');
  assert.equal(server?.statusCode, 2);
  const r2 = await get(`http://${caller.outbound}/`, { host: 'ghost' });
  assert.equal(r2.status, 503);
  const client = (await collector.waitFor((s) => s.kind === CLIENT && s.attributes[ATTR.errorReason] === 'no_endpoints'))[0];
  assert.equal(client?.attributes[ATTR.errorOrigin], 'proxy');
  assert.equal(client?.attributes[ATTR.peerService], 'ghost');
});

test('a collector that is down or hangs does not affect traffic; drops are counted', async (t) => {
  for (const behaviour of ['fail', 'hang'] as const) {
    const collector = await startCollector(behaviour);
    t.after(() => collector.close());
    const app = await startServer((_req, res) => res.end('ok'));
    t.after(() => app.close());
    const sidecar = await startSidecar({ service: 'payments', app: app.address, collector: collector.url }, { tracerOptions: { flushIntervalMs: 20, maxQueueSize: 10, exportTimeoutMs: 200 } });
    t.after(() => sidecar.close());
    for (let i = 0; i < 50; i++) assert.equal((await get(`http://${sidecar.inbound}/`, { host: 'payments' })).status, 200);
    const deadline = Date.now() + 5_000;
    let dropped = 0;
    while (Date.now() < deadline) {
      const text = await sidecar.sidecar.metrics().render();
      dropped = Number(/meshlet_telemetry_dropped_total\{signal="spans"\} (\d+)/.exec(text)?.[1] ?? 0);
      if (dropped > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(dropped > 0, `${behaviour}: drops counted`);
  }
});
