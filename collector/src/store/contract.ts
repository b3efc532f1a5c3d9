// The contract test suite of TraceWriter + TraceReader (store.ts): every store implementation runs it.
// @example runStoreContract('sqlite', (now) => openSqliteStore({ dir: ':memory:', now }));
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseTrace } from '../analysis/analyse-trace.ts';
import { contributionOf } from '../analysis/contribution.ts';
import { factsOf } from '../analysis/facts.ts';
import { n } from '../analysis/merge.ts';
import type { LogRecordData, SpanRecord } from '../otlp/model.ts';
import { shopTrace } from '../../test/fixtures/shop.ts';
import { seededRandom, TraceBuilder } from '../../test/fixtures/trace-builder.ts';
import type { TraceReader, TraceWriter } from './store.ts';

type Store = TraceWriter & TraceReader;

/** Analyses a pending trace as the analyzer does (taking its previous analysis back). */
function analyse(store: Store, traceId: string): void {
  const pending = store.pendingTraces(Number.MAX_SAFE_INTEGER, 1_000_000).find((p) => p.traceId === traceId);
  const analysedCount = pending?.analysedCount ?? store.traceSpans(traceId).length;
  let previous = null;
  if (analysedCount > 0) {
    const old = store.traceSpans(traceId, analysedCount).map(factsOf);
    previous = contributionOf(analyseTrace(old), old);
  }
  const facts = store.traceSpans(traceId).map(factsOf);
  const analysis = analyseTrace(facts);
  store.saveAnalyses([{ analysis, contribution: contributionOf(analysis, facts), spanCount: facts.length, previous }]);
}

function log(span: SpanRecord, body: string, atMs: number): LogRecordData {
  return {
    timeUnixNano: BigInt(atMs) * 1_000_000n + 7n,
    observedTimeUnixNano: 0n,
    severityNumber: 9,
    severityText: 'INFO',
    body,
    attributes: { n: 1 },
    droppedAttributesCount: 0,
    flags: 0,
    traceId: span.traceId,
    spanId: span.spanId,
    eventName: '',
    resource: span.resource,
    scope: span.scope,
  };
}

/** Registers the contract tests for a store made by `open` (a fresh, empty store per test). */
export function runStoreContract(name: string, open: (now: () => number) => Store): void {
  const base = 1_800_000_000_000;

  void test(`${name}: a resolved write is readable at once, field by field; duplicates are counted, not stored twice`, async (t) => {
    const store = open(() => base);
    t.after(() => store.close());
    const trace = shopTrace('pricing-app-error', { random: seededRandom(1), startNs: BigInt(base) * 1_000_000n + 1n });
    const first = await store.write({ spans: trace.spans, logs: [log(trace.spans[0]!, 'hello', base)] });
    assert.equal(first.insertedSpans.length, trace.spans.length);
    assert.equal(first.insertedLogs, 1);
    const traceId = trace.spans[0]!.traceId;
    const read = store.traceSpans(traceId);
    const byId = new Map(read.map((s) => [s.spanId, s]));
    for (const s of trace.spans) assert.deepEqual(byId.get(s.spanId), s);
    const again = await store.write({ spans: trace.spans.slice(0, 3), logs: [log(trace.spans[0]!, 'hello', base)] });
    assert.deepEqual([again.insertedSpans.length, again.duplicateSpans, again.insertedLogs, again.duplicateLogs], [0, 3, 0, 1]);
    assert.equal(store.traceSpans(traceId).length, trace.spans.length);
    assert.equal(store.stats().spans, trace.spans.length);
    assert.equal(store.stats().traces, 1);
    assert.deepEqual(store.logs({ fromMs: 0, toMs: base + 1, traceId, limit: 10 }).map((l) => [l.body, l.timeUnixNano]), [['hello', BigInt(base) * 1_000_000n + 7n]]);
    assert.deepEqual(store.traceSpans('f'.repeat(32)), []);
  });

  void test(`${name}: quiet traces are pending until analysed; a late span makes the trace pending again`, async (t) => {
    let now = base;
    const store = open(() => now);
    t.after(() => store.close());
    const b = new TraceBuilder({ random: seededRandom(2), startNs: BigInt(base) * 1_000_000n });
    const root = b.server('a', 'GET /a', null, { durationMs: 10 });
    const req = b.request('a', 'b', 'GET /b', root, { atMs: 1, durationMs: 8 });
    await store.write({ spans: b.spans(), logs: [] });
    assert.deepEqual(store.pendingTraces(now, 10), [], 'not quiet yet');
    now += 1000;
    const [p] = store.pendingTraces(now, 10);
    assert.deepEqual([p?.traceId, p?.spanCount, p?.analysedBefore], [b.traceId, 2, false]);
    analyse(store, b.traceId);
    assert.deepEqual(store.pendingTraces(now, 10), []);
    assert.equal(store.traceRow(b.traceId)?.status, 'ok');
    let edges = store.aggregates('edge', 0, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(edges.map((e) => [e.key, n(e.data, 'requests'), n(e.data, 'errors')]), [['a->b', 1, 0]]);

    // A late failing attempt arrives: the trace is analysed again and its old contribution taken back.
    const late = b.attempt(req, 1, { atMs: 1.5, durationMs: 7, error: 'connect_refused' });
    req.statusCode = 2;
    await store.write({ spans: [late], logs: [] });
    now += 1000;
    const [again] = store.pendingTraces(now, 10);
    assert.deepEqual([again?.spanCount, again?.analysedBefore], [3, true]);
    analyse(store, b.traceId);
    edges = store.aggregates('edge', 0, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(edges.map((e) => [e.key, n(e.data, 'requests'), n(e.data, 'errors')]), [['a->b', 1, 0]], 'still one request (the stored request span is ok)');
    assert.deepEqual(store.aggregates('point', 0, Number.MAX_SAFE_INTEGER).map((r) => r.key), []);
  });

  void test(`${name}: re-analysis replaces a trace's contribution: aggregates equal the latest analyses`, async (t) => {
    let now = base;
    const store = open(() => now);
    t.after(() => store.close());
    const random = seededRandom(3);
    const traces = ['ok', 'ok', 'inventory-refused'].map((s) => shopTrace(s as 'ok', { random, startNs: BigInt(base) * 1_000_000n }));
    for (const tr of traces) await store.write({ spans: tr.spans, logs: [] });
    now += 5000;
    for (const p of store.pendingTraces(now, 10)) analyse(store, p.traceId);
    for (const p of traces.map((x) => x.spans[0]!.traceId)) analyse(store, p); // analysing twice changes nothing
    const nodes = new Map(store.aggregates('node', 0, Number.MAX_SAFE_INTEGER).map((r) => [r.key, r.data]));
    assert.equal(n(nodes.get('gateway'), 'requests'), 3);
    assert.equal(n(nodes.get('gateway'), 'errors'), 1);
    assert.equal(n(nodes.get('inventory'), 'originFailures'), 1);
    const points = store.aggregates('point', 0, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(points.map((p) => [p.key, n(p.data, 'count')]), [['inventory|GET inventory/stock|connect_refused', 1]]);
    const origins = store.origins('inventory', 'GET inventory/stock', 'connect_refused', 0, Number.MAX_SAFE_INTEGER, 5);
    assert.deepEqual(origins.map((o) => o.traceId), [traces[2]!.spans[0]!.traceId]);
  });

  void test(`${name}: search returns analysed traces newest first, by service, operation, status, origin, duration, attribute`, async (t) => {
    let now = base;
    const store = open(() => now);
    t.after(() => store.close());
    const random = seededRandom(4);
    const traces = ['ok', 'pricing-app-error', 'ok', 'catalog-timeout'].map((s, i) => shopTrace(s as 'ok', { random, startNs: BigInt(base + i * 1000) * 1_000_000n }));
    for (const tr of traces) await store.write({ spans: tr.spans, logs: [] });
    now += 10_000;
    for (const p of store.pendingTraces(now, 10)) analyse(store, p.traceId);
    const ids = traces.map((x) => x.spans[0]!.traceId);
    const q = { fromMs: base - 1, toMs: base + 10_000, limit: 10 };
    assert.deepEqual(store.searchTraces(q).traces.map((x) => x.traceId), [...ids].reverse());
    assert.deepEqual(store.searchTraces({ ...q, status: 'error' }).traces.map((x) => x.traceId), [ids[3], ids[1]]);
    assert.deepEqual(store.searchTraces({ ...q, originService: 'pricing' }).traces.map((x) => x.traceId), [ids[1]]);
    assert.deepEqual(store.searchTraces({ ...q, reason: 'request_timeout' }).traces.map((x) => x.traceId), [ids[3]]);
    assert.deepEqual(store.searchTraces({ ...q, service: 'pricing', operation: 'GET /price' }).traces.length, 4);
    assert.deepEqual(store.searchTraces({ ...q, minDurationMs: 150 }).traces.map((x) => x.traceId), [ids[3]]);
    assert.deepEqual(store.searchTraces({ ...q, maxDurationMs: 150 }).traces.length, 3);
    assert.deepEqual(store.searchTraces({ ...q, attributes: [['meshlet.error.reason', 'request_timeout']] }).traces.map((x) => x.traceId), [ids[3]]);
    assert.deepEqual(store.searchTraces({ ...q, attributes: [['service.name', 'pricing'], ['http.response.status_code', '500']] }).traces.map((x) => x.traceId), [ids[1]]);
    const limited = store.searchTraces({ ...q, limit: 2 });
    assert.deepEqual([limited.traces.length, limited.truncated], [2, true]);
    const row = store.traceRow(ids[1]!);
    assert.deepEqual([row?.rootService, row?.rootOperation, row?.status, row?.origins.map((o) => o.service)], ['gateway', 'GET /products', 'error', ['pricing']]);
  });

  void test(`${name}: retention deletes old traces, logs and aggregates by age, and the oldest data by size`, async (t) => {
    let now = base;
    const store = open(() => now);
    t.after(() => store.close());
    const random = seededRandom(5);
    const old = shopTrace('pricing-app-error', { random, startNs: BigInt(base - 7_200_000) * 1_000_000n });
    const fresh = shopTrace('ok', { random, startNs: BigInt(base) * 1_000_000n });
    await store.write({ spans: [...old.spans, ...fresh.spans], logs: [log(old.spans[0]!, 'old', base - 7_200_000), log(fresh.spans[0]!, 'new', base)] });
    now += 5000;
    for (const p of store.pendingTraces(now, 10)) analyse(store, p.traceId);
    const removed = store.prune({ maxAgeMs: 3_600_000, maxBytes: Number.MAX_SAFE_INTEGER, nowMs: now });
    assert.deepEqual(removed, { traces: 1, spans: old.spans.length, logs: 1 });
    assert.deepEqual(store.traceSpans(old.spans[0]!.traceId), []);
    assert.equal(store.traceSpans(fresh.spans[0]!.traceId).length, fresh.spans.length);
    assert.deepEqual(store.aggregates('point', 0, Number.MAX_SAFE_INTEGER), []);
    assert.deepEqual(store.logs({ fromMs: 0, toMs: now, limit: 10 }).map((l) => l.body), ['new']);

    for (let i = 0; i < 200; i++) await store.write({ spans: shopTrace('ok', { random, startNs: BigInt(base + i) * 1_000_000n }).spans, logs: [] });
    const before = store.stats();
    for (let i = 0; i < 50 && store.stats().usedBytes > before.usedBytes / 2; i++) store.prune({ maxAgeMs: 3_600_000, maxBytes: before.usedBytes / 2, nowMs: now });
    const after = store.stats();
    assert.ok(after.usedBytes <= before.usedBytes / 2, `${after.usedBytes} <= ${before.usedBytes / 2}`);
    assert.ok(after.traces < before.traces && after.traces > 0);
    assert.equal(store.traceSpans(fresh.spans[0]!.traceId).length, 0, 'the oldest trace went first');
  });

  void test(`${name}: a closed store rejects writes`, async () => {
    const store = open(() => base);
    await store.close();
    await assert.rejects(store.write({ spans: [], logs: [] }), { code: 'ERR_COLLECTOR_STORE' });
  });
}
