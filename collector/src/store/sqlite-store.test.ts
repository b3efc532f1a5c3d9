import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { createAnalyzer } from '../analysis/analyzer.ts';
import type { SpanRecord } from '../otlp/model.ts';
import { shopTrace } from '../../test/fixtures/shop.ts';
import { seededRandom } from '../../test/fixtures/trace-builder.ts';
import { runStoreContract } from './contract.ts';
import { openSqliteStore } from './sqlite-store.ts';

runStoreContract('sqlite (in memory)', (now) => openSqliteStore({ dir: ':memory:', now }));

runStoreContract('sqlite (file, WAL, synchronous=FULL)', (now) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-store-'));
  const store = openSqliteStore({ dir, now, sync: 'full' });
  const close = store.close.bind(store);
  // The directory goes with the store.
  store.close = async () => {
    try {
      await close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return store;
});

/**
 * Tables as versions 1 and 2 had them: meta at `version`, interned resources and scopes, and spans with a
 * column per field (`spanExtra`: more span columns).
 */
const oldTables = (version: number, spanExtra: string): string => `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('schema', '${version}');
    CREATE TABLE resources (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE, service TEXT NOT NULL);
    CREATE TABLE scopes (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
    CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL,
      resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL,
      end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL, status_message TEXT NOT NULL, attrs TEXT NOT NULL, events TEXT, links TEXT,
      trace_state TEXT NOT NULL, flags INTEGER NOT NULL, dropped_attrs INTEGER NOT NULL, dropped_events INTEGER NOT NULL,
      dropped_links INTEGER NOT NULL, received_ms INTEGER NOT NULL${spanExtra});`;

void test('sqlite: a version 1 store is migrated on open: its spans stay readable, deduped and analysable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-store-v1-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = 1_800_000_000_000;
  const trace = shopTrace('pricing-app-error', { random: seededRandom(7), startNs: BigInt(base) * 1_000_000n });
  const [first, ...rest] = trace.spans as [SpanRecord, ...SpanRecord[]];
  // The tables of version 1 that version 2 changed (traces keyed by hex id, spans deduped by it), with one
  // trace of one span written the way version 1 wrote it.
  const v1 = new DatabaseSync(join(dir, 'meshlet.db'));
  v1.exec(`
    ${oldTables(1, '')}
    CREATE UNIQUE INDEX spans_trace_span ON spans (trace_id, span_id);
    CREATE TABLE traces (trace_id TEXT PRIMARY KEY, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, span_count INTEGER NOT NULL,
      last_received_ms INTEGER NOT NULL, dirty INTEGER NOT NULL DEFAULT 1, analysed_count INTEGER NOT NULL DEFAULT 0, status INTEGER,
      error_count INTEGER, root_service TEXT, root_name TEXT, services TEXT, origins TEXT, run TEXT) WITHOUT ROWID;
    CREATE INDEX traces_start ON traces (start_us);
    CREATE INDEX traces_pending ON traces (last_received_ms) WHERE dirty = 1;
  `);
  v1.prepare('INSERT INTO resources (id, json, service) VALUES (1, ?, ?)').run(JSON.stringify(first.resource), 'gateway');
  v1.prepare('INSERT INTO scopes (id, json) VALUES (1, ?)').run(JSON.stringify(first.scope));
  v1.prepare(`INSERT INTO spans VALUES (1, ?, ?, ?, 1, 1, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, 0, 0, 0, ?)`).run(
    first.traceId, first.spanId, first.parentSpanId, first.name, first.kind, first.startTimeUnixNano, first.endTimeUnixNano,
    first.statusCode, first.statusMessage, JSON.stringify(first.attributes), first.traceState, first.flags, base,
  );
  v1.prepare('INSERT INTO traces (trace_id, start_us, end_us, span_count, last_received_ms) VALUES (?, ?, ?, 1, ?)').run(
    first.traceId, Number(first.startTimeUnixNano / 1000n), Number(first.endTimeUnixNano / 1000n), base,
  );
  v1.close();

  const store = openSqliteStore({ dir, now: () => base + 5_000 });
  t.after(() => store.close());
  const read = store.traceSpans(first.traceId);
  assert.equal(read.length, 1);
  assert.equal(read[0]?.spanId, first.spanId);
  assert.deepEqual(read[0]?.attributes, first.attributes);
  assert.equal(store.stats().traces, 1);
  // The migrated span still dedupes; the rest of its trace joins it.
  const written = await store.write({ spans: trace.spans, logs: [] });
  assert.equal(written.duplicateSpans, 1);
  assert.equal(written.insertedSpans.length, rest.length);
  assert.equal(store.traceSpans(first.traceId).length, trace.spans.length);
  const pending = store.pendingTraces(Number.MAX_SAFE_INTEGER, 10);
  assert.deepEqual(pending.map((p) => [p.traceId, p.spanCount]), [[first.traceId, trace.spans.length]]);
  assert.equal(store.stats().traces, 1);
});

void test('sqlite: a version 2 store is migrated on open (through version 3): every field of its spans is kept exactly, they dedupe and stay searchable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-store-v2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = 1_800_000_000_000;
  const trace = shopTrace('pricing-app-error', { random: seededRandom(9), startNs: BigInt(base) * 1_000_000n });
  const [plain, second, ...rest] = trace.spans as [SpanRecord, SpanRecord, ...SpanRecord[]];
  // A span using every field, with values JSON alone would not keep (nanoseconds, int64 beyond 2^53, bytes, -0).
  const first: SpanRecord = {
    ...plain,
    traceState: 'vendor=x',
    flags: 257,
    startTimeUnixNano: BigInt(base) * 1_000_000n + 123n,
    attributes: { ...plain.attributes, big: { i: '9007199254740993' }, whole: { d: 3 }, neg: { d: '-0' }, raw: { b: 'AAEC' }, list: [1, 'x', null, 0.5], map: { kv: { ok: true } }, none: null },
    droppedAttributesCount: 2,
    events: [{ timeUnixNano: 1544712660000000123n, name: 'retry', attributes: { attempt: 2 }, droppedAttributesCount: 1 }],
    droppedEventsCount: 3,
    links: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceState: 'a=b', attributes: { why: 'follows' }, droppedAttributesCount: 0, flags: 1 }],
    droppedLinksCount: 4,
    statusCode: 2,
    statusMessage: 'price lookup failed',
  };
  // The tables of version 2 that version 3 changed (a column per span field), written the way version 2 wrote them.
  const v2 = new DatabaseSync(join(dir, 'meshlet.db'));
  v2.exec(`
    ${oldTables(2, ', trace_ref INTEGER NOT NULL DEFAULT 0')}
    CREATE UNIQUE INDEX spans_trace_ref ON spans (trace_ref, span_id);
    CREATE TABLE traces (id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,
      span_count INTEGER NOT NULL, last_received_ms INTEGER NOT NULL, dirty INTEGER NOT NULL DEFAULT 1, analysed_count INTEGER NOT NULL DEFAULT 0,
      status INTEGER, error_count INTEGER, root_service TEXT, root_name TEXT, services TEXT, origins TEXT, run TEXT);
  `);
  v2.prepare('INSERT INTO resources (id, json, service) VALUES (1, ?, ?)').run(JSON.stringify(first.resource), 'gateway');
  v2.prepare('INSERT INTO scopes (id, json) VALUES (1, ?)').run(JSON.stringify(first.scope));
  v2.prepare('INSERT INTO traces (id, trace_id, start_us, end_us, span_count, last_received_ms) VALUES (7, ?, ?, ?, 2, ?)').run(
    first.traceId, Number(first.startTimeUnixNano / 1000n), Number(first.endTimeUnixNano / 1000n), base,
  );
  const insertV2 = v2.prepare(`INSERT INTO spans VALUES (?, ?, ?, ?, 1, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 7)`);
  // Two spans of the trace (row ids 1 and 2; version 4 numbers them within their trace).
  for (const [id, span] of [[1, first], [2, second]] as const) {
    insertV2.run(
      id, span.traceId, span.spanId, span.parentSpanId, span.name, span.kind, span.startTimeUnixNano, span.endTimeUnixNano,
      span.statusCode, span.statusMessage, JSON.stringify(span.attributes),
      span.events.length === 0 ? null : JSON.stringify(span.events.map((e) => [e.timeUnixNano.toString(), e.name, e.attributes, e.droppedAttributesCount])),
      span.links.length === 0 ? null : JSON.stringify(span.links.map((l) => [l.traceId, l.spanId, l.traceState, l.attributes, l.droppedAttributesCount, l.flags])),
      span.traceState, span.flags, span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount, base,
    );
  }
  v2.close();

  const store = openSqliteStore({ dir, now: () => base + 5_000 });
  t.after(() => store.close());
  assert.deepEqual(store.traceSpans(first.traceId, 2), [first, second]);
  assert.equal(store.stats().spans, 2);
  // The migrated spans still dedupe; the rest of its trace joins them.
  const written = await store.write({ spans: [first, second, ...rest], logs: [] });
  assert.equal(written.duplicateSpans, 2);
  assert.equal(written.insertedSpans.length, rest.length);
  assert.equal(store.traceSpans(first.traceId).length, trace.spans.length);
  const [pending] = store.pendingTraces(Number.MAX_SAFE_INTEGER, 10);
  assert.deepEqual([pending?.traceId, pending?.spanCount, pending?.analysedCount], [first.traceId, trace.spans.length, 0]);
  // Attribute search reads the migrated span's attributes.
  createAnalyzer({ store, quietMs: 0, now: () => base + 60_000 }).drain();
  const search = (key: string, value: string): string[] =>
    store.searchTraces({ fromMs: base - 60_000, toMs: base + 60_000, attributes: [[key, value]], limit: 10 }).traces.map((r) => r.traceId);
  assert.deepEqual(search('big', '9007199254740993'), [first.traceId]);
  assert.deepEqual(search('map', '{"ok":true}'), [first.traceId]);
  assert.deepEqual(search('big', '1'), []);
});

void test('sqlite: a store of an unknown schema version is refused with a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-store-v9-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(join(dir, 'meshlet.db'));
  db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '9')");
  db.close();
  assert.throws(() => openSqliteStore({ dir }), /has schema version 9; this collector reads version 4/);
});

void test('sqlite: span ids repeated inside a write, a trace split across writes of one commit, and late spans are counted once', async (t) => {
  const base = 1_800_000_000_000;
  const store = openSqliteStore({ dir: ':memory:', now: () => base });
  t.after(() => store.close());
  const trace = shopTrace('pricing-app-error', { random: seededRandom(11), startNs: BigInt(base) * 1_000_000n });
  const spans = trace.spans;
  assert.ok(spans.length >= 4);
  const [a, b, c, ...late] = spans as [SpanRecord, SpanRecord, SpanRecord, ...SpanRecord[]];
  // One write repeats a span (a new trace's path); two writes queued in the same turn share one commit.
  const [first, second] = await Promise.all([store.write({ spans: [a, b, a], logs: [] }), store.write({ spans: [b, c], logs: [] })]);
  assert.deepEqual(first.insertedSpans.map((s) => s.spanId), [a.spanId, b.spanId]);
  assert.equal(first.duplicateSpans, 1);
  assert.deepEqual(second.insertedSpans.map((s) => s.spanId), [c.spanId]);
  assert.equal(second.duplicateSpans, 1);
  // Late spans of the stored trace, with a repeat of a stored one.
  const third = await store.write({ spans: [...late, a], logs: [] });
  assert.equal(third.insertedSpans.length, late.length);
  assert.equal(third.duplicateSpans, 1);
  assert.equal(store.stats().spans, spans.length);
  assert.equal(store.stats().traces, 1);
  const [pending] = store.pendingTraces(base + 1, 10);
  assert.equal(pending?.spanCount, spans.length);
  assert.deepEqual(store.traceSpans(a.traceId).map((s) => s.spanId).sort(), spans.map((s) => s.spanId).sort());
});
