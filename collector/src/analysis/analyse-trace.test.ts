import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTR } from '@meshlet/wire';
import { seededRandom, TraceBuilder } from '../../test/fixtures/trace-builder.ts';
import type { SpanRecord } from '../otlp/model.ts';
import { analyseTrace } from './analyse-trace.ts';
import { contributionOf } from './contribution.ts';
import { factsOf } from './facts.ts';

const analyse = (spans: SpanRecord[]) => analyseTrace(spans.map(factsOf));
const builder = (seed: number) => new TraceBuilder({ random: seededRandom(seed), startNs: 1_700_000_000_000_000_000n });

test('chain A→B→C where C fails: C is the origin, B and A only propagated it', () => {
  const b = builder(1);
  const a = b.server('a', 'GET /a', null, { durationMs: 30, error: 'app_error' });
  const ab = b.request('a', 'b', 'GET /b', a, { atMs: 1, durationMs: 28, error: 'app_error' });
  const ab1 = b.attempt(ab, 1, { atMs: 1, durationMs: 27, error: 'app_error' });
  const bs = b.server('b', 'GET /b', ab1, { atMs: 2, durationMs: 25, error: 'app_error' });
  const bc = b.request('b', 'c', 'GET /c', bs, { atMs: 3, durationMs: 20, error: 'app_error' });
  const bc1 = b.attempt(bc, 1, { atMs: 3, durationMs: 19, error: 'app_error' });
  const cs = b.server('c', 'GET /c', bc1, { atMs: 4, durationMs: 18, error: 'app_error', message: 'database is down' });
  const r = analyse(b.spans());
  assert.equal(r.status, 'error');
  assert.equal(r.origins.length, 1);
  const o = r.origins[0]!;
  assert.deepEqual([o.spanId, o.service, o.reason, o.origin, o.operation], [cs.spanId, 'c', 'app_error', 'app', 'GET /c']);
  assert.equal(o.message, 'database is down');
  assert.deepEqual([o.entryService, o.entryOperation], ['a', 'GET /a']);
  assert.deepEqual(o.propagatedBy, ['a', 'b']);
  assert.equal(r.roles.get(cs.spanId), 'origin');
  for (const s of [a, ab, ab1, bs, bc, bc1]) assert.equal(r.roles.get(s.spanId), 'propagated', s.name);
  // Propagation runs from the origin up to the root.
  assert.deepEqual(r.propagation, [bc1, bc, bs, ab1, ab, a].map((s) => s.spanId));
  const edges = Object.fromEntries(r.calls.map((c) => [`${c.from}->${c.to}`, c]));
  assert.equal(edges['a->b']?.failed, true);
  assert.equal(edges['a->b']?.originAtCallee, false, 'b only passed the failure back');
  assert.equal(edges['b->c']?.originAtCallee, true);
});

test('fan-out where one of three callees fails: only that callee is an origin', () => {
  const b = builder(2);
  const gw = b.server('gateway', 'GET /home', null, { durationMs: 50, error: 'app_error' });
  let failing: SpanRecord | undefined;
  for (const [i, svc] of ['users', 'recs', 'ads'].entries()) {
    const fails = svc === 'recs';
    const req = b.request('gateway', svc, `GET /${svc}`, gw, { atMs: 1 + i, durationMs: 20, error: fails ? 'app_error' : undefined });
    const att = b.attempt(req, 1, { atMs: 1 + i, durationMs: 19, error: fails ? 'app_error' : undefined });
    const srv = b.server(svc, `GET /${svc}`, att, { atMs: 2 + i, durationMs: 18, error: fails ? 'app_error' : undefined });
    if (fails) failing = srv;
  }
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service]), [[failing!.spanId, 'recs']]);
  assert.equal(r.calls.length, 3);
  assert.deepEqual(r.calls.filter((c) => c.failed).map((c) => c.to), ['recs']);
  const ok = b.spans().filter((s) => s.statusCode !== 2);
  for (const s of ok) assert.equal(r.roles.get(s.spanId), undefined);
});

test('retries that recover: no origin, the trace is ok, the failed attempt is recovered and counted on its edge', () => {
  const b = builder(3);
  const a = b.server('checkout', 'POST /pay', null, { durationMs: 40 });
  const req = b.request('checkout', 'payments', 'POST /charge', a, { atMs: 1, durationMs: 35 });
  const a1 = b.attempt(req, 1, { atMs: 1, durationMs: 2, error: 'connect_refused' });
  const a2 = b.attempt(req, 2, { atMs: 5, durationMs: 30 });
  b.server('payments', 'POST /charge', a2, { atMs: 6, durationMs: 28 });
  const r = analyse(b.spans());
  assert.equal(r.status, 'ok');
  assert.deepEqual(r.origins, []);
  assert.ok(r.recovered.has(a1.spanId));
  const [call] = r.calls;
  assert.deepEqual([call?.from, call?.to, call?.failed, call?.retries, call?.recovered, call?.reasons], ['checkout', 'payments', false, 1, true, ['connect_refused']]);
  const c = contributionOf(r, b.spans().map(factsOf));
  assert.deepEqual(c.points, {});
  assert.equal(c.edges['checkout->payments']?.recovered, 1);
  assert.deepEqual(c.edges['checkout->payments']?.reasons, { connect_refused: 1 });
});

test('retries that do not recover: only the last attempt is the origin; earlier failures are not counted twice', () => {
  const b = builder(4);
  const a = b.server('catalog', 'GET /items', null, { durationMs: 20, error: 'app_error' });
  const req = b.request('catalog', 'inventory', 'GET /stock', a, { atMs: 1, durationMs: 15, error: 'connect_refused' });
  b.attempt(req, 1, { atMs: 1, durationMs: 1, error: 'connect_refused' });
  b.attempt(req, 2, { atMs: 3, durationMs: 1, error: 'connect_refused' });
  const last = b.attempt(req, 3, { atMs: 5, durationMs: 1, error: 'connect_refused' });
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service, o.reason, o.operation]), [[last.spanId, 'inventory', 'connect_refused', req.name]]);
  assert.equal(r.calls[0]?.retries, 2);
  assert.deepEqual(r.calls[0]?.reasons, ['connect_refused', 'connect_refused', 'connect_refused']);
});

test('a timeout at A→B while C is slow: the timeout is the origin, blamed on B; C is on the critical path', () => {
  const b = builder(5);
  const a = b.server('a', 'GET /a', null, { durationMs: 260, error: 'app_error', status: 504 });
  const ab = b.request('a', 'b', 'GET /b', a, { atMs: 1, durationMs: 250, error: 'request_timeout' });
  const ab1 = b.attempt(ab, 1, { atMs: 1, durationMs: 250, error: 'request_timeout' });
  const bs = b.server('b', 'GET /b', ab1, { atMs: 2, durationMs: 900 });
  const bc = b.request('b', 'c', 'GET /c', bs, { atMs: 3, durationMs: 890 });
  const bc1 = b.attempt(bc, 1, { atMs: 3, durationMs: 889 });
  const cs = b.server('c', 'GET /c', bc1, { atMs: 4, durationMs: 888 });
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service, o.reason, o.origin]), [[ab1.spanId, 'b', 'request_timeout', 'proxy']]);
  assert.deepEqual(r.origins[0]?.propagatedBy, ['a']);
  // The slow path: a → request → attempt → b → c, finishing last.
  assert.deepEqual(r.criticalPath, [a, ab, ab1, bs, bc, bc1, cs].map((s) => s.spanId));
  assert.equal(r.roles.get(bs.spanId), undefined, 'b itself did not fail');
});

test('a timeout at B on its call to a slow C is blamed on C', () => {
  const b = builder(6);
  const a = b.server('a', 'GET /a', null, { durationMs: 300, error: 'app_error' });
  const ab = b.request('a', 'b', 'GET /b', a, { atMs: 1, durationMs: 290, error: 'app_error' });
  const ab1 = b.attempt(ab, 1, { atMs: 1, durationMs: 290, error: 'app_error' });
  const bs = b.server('b', 'GET /b', ab1, { atMs: 2, durationMs: 280, error: 'app_error', status: 504 });
  const bc = b.request('b', 'c', 'GET /c', bs, { atMs: 3, durationMs: 250, error: 'request_timeout' });
  const bc1 = b.attempt(bc, 1, { atMs: 3, durationMs: 250, error: 'request_timeout' });
  b.server('c', 'GET /c', bc1, { atMs: 4, durationMs: 2000 });
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service, o.reason]), [[bc1.spanId, 'c', 'request_timeout']]);
  assert.deepEqual(r.origins[0]?.propagatedBy, ['a', 'b']);
});

test('a proxy-made no_endpoints (no server span under it) blames the callee', () => {
  const b = builder(7);
  const a = b.server('cart', 'POST /checkout', null, { durationMs: 5, error: 'app_error', status: 503 });
  const req = b.request('cart', 'payments', 'POST /charge', a, { atMs: 1, durationMs: 0.3, error: 'no_endpoints' });
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service, o.reason, o.origin]), [[req.spanId, 'payments', 'no_endpoints', 'proxy']]);
  assert.deepEqual(r.calls.map((c) => [c.from, c.to, c.failed, c.originAtCallee]), [['cart', 'payments', true, true]]);
});

test('caller-made reasons (unknown_service, denied) blame the caller', () => {
  const b = builder(8);
  const a = b.server('web', 'GET /', null, { durationMs: 5, error: 'app_error' });
  const req = b.request('web', 'nosuch', 'GET /x', a, { atMs: 1, durationMs: 0.1, error: 'unknown_service' });
  const r = analyse(b.spans());
  assert.deepEqual(r.origins.map((o) => [o.spanId, o.service, o.reason]), [[req.spanId, 'web', 'unknown_service']]);

  const d = builder(9);
  const w = d.server('web', 'GET /', null, { durationMs: 5, error: 'app_error' });
  const dr = d.request('web', 'admin', 'GET /admin', w, { atMs: 1, durationMs: 2, error: 'denied' });
  const da = d.attempt(dr, 1, { atMs: 1, durationMs: 2, error: 'denied' });
  // The callee's inbound sidecar refused the caller by policy: its SERVER span carries `denied`.
  const ds = d.server('admin', 'GET /admin', da, { atMs: 1.5, durationMs: 0.5, error: 'denied' });
  const rd = analyse(d.spans());
  assert.deepEqual(rd.origins.map((o) => [o.spanId, o.service, o.reason]), [[ds.spanId, 'web', 'denied']]);
});

test('a service that does not propagate context: its calls arrive as a separate trace, both traces are explained', () => {
  // Trace 1: a → b; b's app calls c without the trace context, then answers 500 itself.
  const t1 = builder(10);
  const a = t1.server('a', 'GET /a', null, { durationMs: 50, error: 'app_error' });
  const ab = t1.request('a', 'b', 'GET /b', a, { atMs: 1, durationMs: 45, error: 'app_error' });
  const ab1 = t1.attempt(ab, 1, { atMs: 1, durationMs: 44, error: 'app_error' });
  const bs = t1.server('b', 'GET /b', ab1, { atMs: 2, durationMs: 40, error: 'app_error' });
  // Trace 2: b's outbound sidecar saw a request with no trace context while one was in flight.
  const t2 = builder(11);
  const bc = t2.request('b', 'c', 'GET /c', null, { atMs: 3, durationMs: 30, error: 'app_error', attributes: { [ATTR.contextPropagated]: false } });
  const bc1 = t2.attempt(bc, 1, { atMs: 3, durationMs: 29, error: 'app_error' });
  const cs = t2.server('c', 'GET /c', bc1, { atMs: 4, durationMs: 28, error: 'app_error' });

  const r1 = analyse(t1.spans());
  assert.deepEqual(r1.origins.map((o) => [o.spanId, o.service]), [[bs.spanId, 'b']], 'from trace 1 alone, b is where it started');
  assert.deepEqual(r1.dropsContext, []);
  const r2 = analyse(t2.spans());
  assert.notEqual(t1.traceId, t2.traceId);
  assert.deepEqual(r2.origins.map((o) => [o.spanId, o.service, o.entryService]), [[cs.spanId, 'c', 'b']]);
  assert.deepEqual(r2.dropsContext, ['b'], 'b is flagged as not propagating context');
  assert.deepEqual(r2.calls.map((c) => `${c.from}->${c.to}`), ['b->c'], 'the edge b → c is still in the graph');
  const c2 = contributionOf(r2, t2.spans().map(factsOf));
  assert.equal(c2.nodes.b?.dropsContext, 1);
});

test('partial traces, parent cycles and generic OpenTelemetry spans do not break the analysis', () => {
  const b = builder(12);
  const a = b.server('a', 'GET /a', null, { durationMs: 10 });
  const x = b.server('b', 'GET /b', a, { atMs: 1, durationMs: 5 });
  const y = b.server('c', 'GET /c', x, { atMs: 2, durationMs: 2 });
  // A cycle: x's parent is y, y's parent is x (malformed input).
  x.parentSpanId = y.spanId;
  const r = analyse(b.spans());
  assert.equal(r.spanCount, 3);
  assert.ok(r.criticalPath.length >= 1);

  // A plain app CLIENT span with an error status and a 5xx SERVER span, no meshlet attributes.
  const g = builder(13);
  const root = g.server('shop', 'GET /', null, { durationMs: 10, error: 'app_error' });
  delete root.attributes[ATTR.errorReason];
  delete root.attributes[ATTR.errorOrigin];
  const ra = analyse(g.spans());
  assert.deepEqual(ra.origins.map((o) => [o.service, o.reason, o.origin]), [['shop', 'app_error', 'app']]);
});
