// Retries and their budget, outlier ejection, timeouts, client aborts, faults and traffic splits,
// against real upstreams on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MESH_ERROR_HEADER } from '@meshlet/wire';
import { get, startCollector, startServer, startSidecar } from './helpers.ts';

test('a retry goes to another endpoint; POST is not retried unless the route says so', async (t) => {
  let goodHits = 0;
  let badHits = 0;
  const good = await startServer((_req, res) => {
    goodHits++;
    res.end('good');
  });
  const bad = await startServer((req, res) => {
    badHits++;
    req.socket.destroy(); // reset: upstream_reset
    void res;
  });
  t.after(() => good.close());
  t.after(() => bad.close());
  const sc = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      pay: { endpoints: [{ address: good.address }, { address: bad.address }], retry: { maxRetries: 2 }, outlier: { consecutiveFailures: 1000 } },
      paypost: {
        endpoints: [{ address: bad.address }],
        retry: { maxRetries: 2 },
        routes: [{ name: 'charge', match: { pathPrefix: '/charge' }, retry: { maxRetries: 2, retryNonIdempotent: true } }],
      },
    },
  });
  t.after(() => sc.close());
  for (let i = 0; i < 20; i++) {
    const r = await get(`http://${sc.outbound}/`, { host: 'pay' });
    assert.equal(r.status, 200, 'every GET ends on the good endpoint');
  }
  assert.equal(goodHits, 20);
  assert.ok(badHits > 0);
  badHits = 0;
  const post = await get(`http://${sc.outbound}/other`, { host: 'paypost' }, 'POST', 'body');
  assert.equal(post.status, 502);
  assert.equal(post.headers[MESH_ERROR_HEADER], 'upstream_reset');
  assert.equal(badHits, 1, 'POST not retried');
  badHits = 0;
  const charge = await get(`http://${sc.outbound}/charge`, { host: 'paypost' }, 'POST', 'x'.repeat(1000));
  assert.equal(charge.status, 502);
  assert.equal(badHits, 3, 'a route marked retryable replays the body');
  badHits = 0;
  const big = await get(`http://${sc.outbound}/charge`, { host: 'paypost' }, 'POST', 'x'.repeat(70 * 1024));
  assert.equal(big.status, 502);
  assert.equal(badHits, 1, 'a body over 64 KiB is not replayed');
});

test('with an upstream failing 100 % of the time, retries stay within the budget', async (t) => {
  let hits = 0;
  const failing = await startServer((_req, res) => {
    hits++;
    res.writeHead(503).end();
  });
  t.after(() => failing.close());
  const sc = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      pay: {
        endpoints: [{ address: failing.address }],
        retry: { maxRetries: 3, retryOn: ['app_error'] },
        outlier: { consecutiveFailures: 100_000 },
        retryBudget: { ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 },
      },
    },
  });
  t.after(() => sc.close());
  const requests = 600;
  const started = Date.now();

  for (let i = 0; i < requests; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => get(`http://${sc.outbound}/`, { host: 'pay' })));
    for (const r of batch) {
      assert.equal(r.status, 503, 'the app 503 passes through');
      assert.equal(r.headers[MESH_ERROR_HEADER], undefined);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const extra = hits - requests;
  const allowed = 0.2 * requests + 10 * Math.max(10, seconds);
  assert.ok(extra <= allowed, `retries ${extra} ≤ budget ${allowed}`);
  assert.ok(extra < requests * 3, 'far fewer than maxRetries × requests');
  const metrics = await sc.sidecar.metrics().render();
  const exhausted = Number(/meshlet_retry_budget_exhausted_total\{destination="pay"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  assert.ok(exhausted > 0, 'budget exhaustion is counted');
  assert.match(metrics, /meshlet_retries_total\{destination="pay",reason="app_error"\} \d+/);
});

test('consecutive failures eject an endpoint; traffic goes to the healthy one; circuit_open when alone', async (t) => {
  let deadHits = 0;
  const dead = await startServer((req) => {
    deadHits++;
    req.socket.destroy();
  });
  const ok = await startServer((_req, res) => res.end('ok'));
  t.after(() => dead.close());
  t.after(() => ok.close());
  const outlier = { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionPercent: 50 };
  const sc = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      pay: { endpoints: [{ address: dead.address }, { address: ok.address }], retry: { maxRetries: 3 }, outlier },
      solo: { endpoints: [{ address: dead.address }], retry: { maxRetries: 0 }, outlier },
    },
  });
  t.after(() => sc.close());
  for (let i = 0; i < 30; i++) assert.equal((await get(`http://${sc.outbound}/`, { host: 'pay' })).status, 200);
  assert.ok(deadHits >= 1 && deadHits <= 3, `the failing endpoint is avoided at once (failure penalty) or ejected: ${deadHits} hits`);
  const reasons: string[] = [];
  for (let i = 0; i < 5; i++) reasons.push(String((await get(`http://${sc.outbound}/`, { host: 'solo' })).headers[MESH_ERROR_HEADER]));
  assert.deepEqual(reasons, ['upstream_reset', 'upstream_reset', 'upstream_reset', 'circuit_open', 'circuit_open']);
  const metrics = await sc.sidecar.metrics().render();
  assert.match(metrics, /meshlet_outlier_ejections_total\{destination="solo"\} 1/);
  assert.match(metrics, /meshlet_endpoints_ejected\{destination="solo"\} 1/);
});

test('a lone endpoint that answers 5xx keeps its traffic (no circuit_open): its app errors pass through', async (t) => {
  let hits = 0;
  const failing = await startServer((_req, res) => {
    hits++;
    res.writeHead(502).end('downstream failed');
  });
  t.after(() => failing.close());
  const sc = await startSidecar({ service: 'shopper', app: null, destinations: { gateway: { endpoints: [{ address: failing.address }], outlier: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionPercent: 50 } } } });
  t.after(() => sc.close());
  for (let i = 0; i < 6; i++) {
    const r = await get(`http://${sc.outbound}/`, { host: 'gateway' });
    assert.equal(r.status, 502);
    assert.equal(r.headers[MESH_ERROR_HEADER], undefined, 'the app answered, the mesh did not fail it');
  }
  assert.equal(hits, 6);
});

test('a fault delay beyond the timeout ends at the timeout with request_timeout, and does not eject the endpoint', async (t) => {
  let hits = 0;
  const app = await startServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  t.after(() => app.close());
  const sc = await startSidecar({
    service: 'catalog',
    app: null,
    destinations: { pricing: { endpoints: [{ address: app.address }], timeoutMs: 150, outlier: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionPercent: 100 }, faults: [{ name: 'slow', delay: { ms: 3_000, percent: 100 } }] } },
  });
  t.after(() => sc.close());
  for (let i = 0; i < 4; i++) {
    const started = Date.now();
    const r = await get(`http://${sc.outbound}/`, { host: 'pricing' });
    assert.equal(r.status, 504);
    assert.equal(r.headers[MESH_ERROR_HEADER], 'request_timeout');
    assert.ok(Date.now() - started < 1_500, `ended at the timeout, not after the 3 s delay (${Date.now() - started} ms)`);
  }
  assert.equal(hits, 0);
  const metrics = await sc.sidecar.metrics().render();
  assert.doesNotMatch(metrics, /meshlet_outlier_ejections_total\{destination="pricing"\} [1-9]/);
});

test('route timeout → 504 request_timeout; a client abort cancels the upstream request', async (t) => {
  let upstreamClosed = 0;
  const slow = await startServer((req, res) => {
    req.on('close', () => {
      if (!res.writableEnded) upstreamClosed++;
    });
    setTimeout(() => res.end('late'), 2_000).unref();
  });
  t.after(() => slow.close());
  const sc = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      slow: { endpoints: [{ address: slow.address }], timeoutMs: 5_000, routes: [{ name: 'quick', match: { pathPrefix: '/quick' }, timeoutMs: 150 }] },
    },
  });
  t.after(() => sc.close());
  const started = Date.now();
  const r = await get(`http://${sc.outbound}/quick`, { host: 'slow' });
  assert.equal(r.status, 504);
  assert.equal(r.headers[MESH_ERROR_HEADER], 'request_timeout');
  assert.ok(Date.now() - started < 1_500);

  // The client goes away: the upstream sees its request closed well before it would answer.
  upstreamClosed = 0;
  const [host, port] = sc.outbound.split(':');
  const sock = net.connect(Number(port), host);
  await new Promise((r) => sock.once('connect', r));
  sock.write('GET /long HTTP/1.1\r\nhost: slow\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  sock.destroy();
  const deadline = Date.now() + 1_500;
  while (upstreamClosed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(upstreamClosed, 1, 'the upstream request was cancelled');
});

test('faults: config abort and delay by percent; the header only in test mode; spans marked', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const app = await startServer((_req, res) => res.end('ok'));
  t.after(() => app.close());
  const dests = {
    pay: { endpoints: [{ address: app.address }], faults: [{ name: 'half', match: { pathPrefix: '/flaky' }, abort: { status: 418, percent: 50 } }, { match: { pathPrefix: '/slow' }, delay: { ms: 200, percent: 100 } }] },
  };
  const sc = await startSidecar({ service: 'orders', app: null, collector: collector.url, destinations: dests }, { tracerOptions: { flushIntervalMs: 50 } });
  t.after(() => sc.close());
  let aborted = 0;
  for (let i = 0; i < 200; i++) {
    const r = await get(`http://${sc.outbound}/flaky`, { host: 'pay' });
    if (r.status === 418) {
      aborted++;
      assert.equal(r.headers[MESH_ERROR_HEADER], 'fault_injected');
    } else assert.equal(r.status, 200);
  }
  assert.ok(aborted > 60 && aborted < 140, `about half aborted: ${aborted}`);
  const t0 = Date.now();
  assert.equal((await get(`http://${sc.outbound}/slow`, { host: 'pay' })).status, 200);
  assert.ok(Date.now() - t0 >= 190, 'delayed');
  const header = { host: 'pay', 'x-meshlet-fault': 'service=pay, abort=503' };
  assert.equal((await get(`http://${sc.outbound}/`, header)).status, 200, 'no test mode: header ignored');
  await collector.waitFor((s) => s.kind === 3 && s.attributes['meshlet.fault.kind'] === 'abort' && s.attributes['meshlet.error.reason'] === 'fault_injected');
  const [delayed] = await collector.waitFor((s) => s.kind === 3 && s.attributes['meshlet.fault.kind'] === 'delay');
  assert.equal(delayed?.attributes['meshlet.fault.injected'], true);

  const testing = await startSidecar({ service: 'orders', app: null, testMode: true, destinations: { pay: { endpoints: [{ address: app.address }] } } });
  t.after(() => testing.close());
  const r = await get(`http://${testing.outbound}/`, header);
  assert.equal(r.status, 503);
  assert.equal(r.headers[MESH_ERROR_HEADER], 'fault_injected');
  assert.equal((await get(`http://${testing.outbound}/`, { host: 'pay', 'x-meshlet-fault': 'service=other, abort=503' })).status, 200, 'scoped to another service');
  const bad = await get(`http://${testing.outbound}/`, { host: 'pay', 'x-meshlet-fault': 'abort=999' });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers[MESH_ERROR_HEADER], 'bad_request');
});

test('traffic split and header routes; weights change at run time without dropping a request', async (t) => {
  const blue = await startServer((_req, res) => res.end('blue'));
  const green = await startServer((_req, res) => res.end('green'));
  t.after(() => blue.close());
  t.after(() => green.close());
  const base = (traffic: Record<string, number>) => ({
    service: 'orders',
    app: null,
    destinations: {
      shop: {
        endpoints: [
          { address: blue.address, version: 'blue' },
          { address: green.address, version: 'green' },
        ],
        traffic,
        routes: [{ name: 'beta', match: { headers: { 'x-beta': '1' } }, traffic: { green: 100 } }],
      },
    },
  });
  const sc = await startSidecar(base({ blue: 90, green: 10 }));
  t.after(() => sc.close());
  const tally = async (n: number, headers: Record<string, string> = {}) => {
    const c: Record<string, number> = { blue: 0, green: 0 };
    for (let i = 0; i < n; i++) {
      const r = await get(`http://${sc.outbound}/`, { host: 'shop', ...headers });
      assert.equal(r.status, 200);
      c[r.text] = (c[r.text] ?? 0) + 1;
    }
    return c;
  };
  const first = await tally(300);
  assert.ok((first.green ?? 0) > 10 && (first.green ?? 0) < 60, JSON.stringify(first));
  assert.deepEqual(await tally(20, { 'x-beta': '1' }), { blue: 0, green: 20 });

  // Flip the split while requests are in flight: none fails.
  const { parseConfig } = await import('../src/config.ts');
  const apply = (traffic: Record<string, number>, revision: number) =>
    sc.sidecar.apply(parseConfig({ ...base(traffic), revision, listen: { inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0' }, telemetry: { accessLog: false } }, 'test'));
  let flips = 0;
  const flipping = (async () => {
    for (let i = 0; i < 20; i++) {
      await apply(i % 2 === 0 ? { green: 100 } : { blue: 50, green: 50 }, i + 1);
      flips++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const results = await Promise.all(Array.from({ length: 400 }, () => get(`http://${sc.outbound}/`, { host: 'shop' })));
  await flipping;
  assert.equal(flips, 20);
  assert.ok(results.every((r) => r.status === 200), 'no request dropped across config changes');
  await apply({ green: 100 }, 100);
  assert.deepEqual(await tally(20), { blue: 0, green: 20 });
});

test('per-try timeout: a slow endpoint is abandoned and the retry goes to a fast one', async (t) => {
  const slow = await startServer((_req, res) => {
    setTimeout(() => res.end('slow'), 1_500).unref();
  });
  const fast = await startServer((_req, res) => res.end('fast'));
  t.after(() => slow.close());
  t.after(() => fast.close());
  const sc = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      pay: {
        endpoints: [{ address: slow.address }, { address: fast.address }],
        timeoutMs: 5_000,
        retry: { maxRetries: 2, retryOn: ['request_timeout'], perTryTimeoutMs: 150 },
        outlier: { consecutiveFailures: 1000 },
      },
    },
  });
  t.after(() => sc.close());
  for (let i = 0; i < 6; i++) {
    const started = Date.now();
    const r = await get(`http://${sc.outbound}/`, { host: 'pay' });
    assert.equal(r.text, 'fast');
    assert.ok(Date.now() - started < 1_200, 'the slow attempt was cut at the per-try timeout');
  }
});

test('inbound policy without mTLS: deny by caller service, and the rate limit', async (t) => {
  const app = await startServer((_req, res) => res.end('ok'));
  t.after(() => app.close());
  const callee = await startSidecar({ service: 'payments', app: app.address, inbound: { deny: ['shipping'], rateLimit: { rps: 1, burst: 3 } } });
  t.after(() => callee.close());
  const shipping = await startSidecar({ service: 'shipping', app: null, destinations: { payments: { endpoints: [{ address: callee.inbound }] } } });
  t.after(() => shipping.close());
  const orders = await startSidecar({ service: 'orders', app: null, destinations: { payments: { endpoints: [{ address: callee.inbound }] } } });
  t.after(() => orders.close());
  const denied = await get(`http://${shipping.outbound}/`, { host: 'payments' });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers[MESH_ERROR_HEADER], 'denied');
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(`http://${orders.outbound}/`, { host: 'payments' })).status);
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'the burst passes');
  assert.ok(statuses.slice(3).includes(429), `then rate_limited: ${statuses.join(',')}`);
});
