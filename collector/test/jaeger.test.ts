// The Jaeger HTTP API as Grafana's Jaeger data source reads it (pkg/tsdb/jaeger: services, operations,
// search with µs start/end, JSON tags and min/maxDuration, trace by id, dependencies with endTs/lookback in
// ms), checked against golden files. `UPDATE_GOLDEN=1` rewrites them after a deliberate change.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyseTrace } from '../src/analysis/analyse-trace.ts';
import { contributionOf } from '../src/analysis/contribution.ts';
import { factsOf } from '../src/analysis/facts.ts';
import { handleJaeger } from '../src/query/jaeger.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { shopTrace, type Scenario } from './fixtures/shop.ts';
import { seededRandom } from './fixtures/trace-builder.ts';
import { body, startCollector } from './helpers.ts';
import { encodeTraceRequest } from '../src/otlp/encode.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const T0_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function golden(name: string, actual: unknown): void {
  const file = join(GOLDEN, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  assert.equal(text, readFileSync(file, 'utf8'), `golden file ${file} (UPDATE_GOLDEN=1 to rewrite after a deliberate change)`);
}

/** What Grafana's Go client decodes: integer µs times, integer flags and call counts, tag types. */
function assertGrafanaShape(trace: { traceID: string; spans: Record<string, unknown>[]; processes: Record<string, { serviceName: string; tags: unknown[] }> }): void {
  assert.match(trace.traceID, /^[0-9a-f]{32}$/);
  for (const s of trace.spans) {
    for (const key of ['startTime', 'duration', 'flags']) assert.ok(Number.isInteger(s[key]), `${key} is an integer`);
    assert.ok(typeof s.processID === 'string' && Object.hasOwn(trace.processes, s.processID));
    for (const tag of s.tags as { type: string }[]) assert.ok(['string', 'bool', 'int64', 'float64', 'binary'].includes(tag.type));
    for (const l of s.logs as { timestamp: number }[]) assert.ok(Number.isInteger(l.timestamp));
    for (const r of s.references as { refType: string }[]) assert.ok(['CHILD_OF', 'FOLLOWS_FROM'].includes(r.refType));
  }
}

function seededStore() {
  const store = openSqliteStore({ dir: ':memory:', now: () => T0_MS + 60_000 });
  const random = seededRandom(2026);
  const scenarios: Scenario[] = ['ok', 'pricing-app-error', 'payments-retry-recovered', 'catalog-timeout'];
  const traces = scenarios.map((s, i) => shopTrace(s, { random, startNs: BigInt(T0_MS + i * 1000) * 1_000_000n + 123n }));
  return { store, traces };
}

test('Jaeger API: services, operations, search, trace by id and dependencies match the golden files', async (t) => {
  const { store, traces } = seededStore();
  t.after(() => store.close());
  await store.write({ spans: traces.flatMap((x) => x.spans), logs: [] });
  for (const tr of traces) {
    const facts = store.traceSpans(tr.spans[0]!.traceId).map(factsOf);
    const a = analyseTrace(facts);
    store.saveAnalyses([{ analysis: a, contribution: contributionOf(a, facts), spanCount: facts.length, previous: null }]);
  }
  const get = (path: string, query = ''): [number, unknown] => handleJaeger(store, path, new URLSearchParams(query), T0_MS + 60_000) ?? [0, null];

  const [s1, services] = get('/api/services');
  assert.equal(s1, 200);
  golden('jaeger-services', services);
  golden('jaeger-operations-catalog', get('/api/services/catalog/operations')[1]);
  golden('jaeger-operations-kind', get('/api/operations', 'service=catalog&spanKind=server')[1]);

  const startUs = T0_MS * 1000 - 1;
  const endUs = (T0_MS + 10_000) * 1000;
  const [s2, search] = get('/api/traces', `service=catalog&tags=${encodeURIComponent('{"meshlet.error.reason":"app_error"}')}&start=${startUs}&end=${endUs}&limit=20&lookback=custom`);
  assert.equal(s2, 200);
  const found = search as { data: { traceID: string }[] };
  assert.deepEqual(found.data.map((x) => x.traceID), [traces[1]!.spans[0]!.traceId]);
  golden('jaeger-search-tags', search);
  const slow = get('/api/traces', `service=gateway&minDuration=150ms&start=${startUs}&end=${endUs}`)[1] as { data: { traceID: string }[] };
  assert.deepEqual(slow.data.map((x) => x.traceID), [traces[3]!.spans[0]!.traceId]);
  const fast = get('/api/traces', `service=gateway&maxDuration=0.15s&operation=${encodeURIComponent('GET /products')}&start=${startUs}&end=${endUs}`)[1] as { data: unknown[] };
  assert.equal(fast.data.length, 2);

  const [s3, one] = get(`/api/traces/${traces[2]!.spans[0]!.traceId}`);
  assert.equal(s3, 200);
  const trace = (one as { data: Parameters<typeof assertGrafanaShape>[0][] }).data[0]!;
  assertGrafanaShape(trace);
  assert.equal(trace.spans.length, traces[2]!.spans.length);
  golden('jaeger-trace', one);

  const [s4, deps] = get('/api/dependencies', `endTs=${T0_MS + 60_000}&lookback=${3_600_000}`);
  assert.equal(s4, 200);
  golden('jaeger-dependencies', deps);

  const [s5, missing] = get(`/api/traces/${'0'.repeat(31)}1`);
  assert.equal(s5, 404);
  assert.deepEqual(missing, { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 404, msg: 'trace not found' }] });
  assert.equal(get('/api/traces', 'operation=x')[0], 400);
  assert.throws(() => get('/api/traces', 'service=a&minDuration=soon'), { code: 'ERR_COLLECTOR_BAD_PARAM' });
  assert.throws(() => get('/api/traces', 'service=a&tags=notjson'), { code: 'ERR_COLLECTOR_BAD_PARAM' });
});

test('Jaeger API over HTTP on the query port', async (t) => {
  const c = await startCollector(t);
  const trace = shopTrace('inventory-refused', { random: seededRandom(5) });
  const res = await fetch(`${c.otlp}/v1/traces`, { method: 'POST', body: body(encodeTraceRequest(trace.spans)), headers: { 'content-type': 'application/x-protobuf' } });
  assert.equal(res.status, 200);
  const one = (await (await fetch(`${c.http}/api/traces/${trace.spans[0]!.traceId}`)).json()) as { data: Parameters<typeof assertGrafanaShape>[0][] };
  assertGrafanaShape(one.data[0]!);
  const bad = await fetch(`${c.http}/api/traces?service=x&minDuration=never`);
  assert.equal(bad.status, 400);
  assert.deepEqual(((await bad.json()) as { errors: unknown[] }).errors.length, 1);
});
