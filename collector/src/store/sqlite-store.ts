// The store on node:sqlite in WAL mode. Writes are grouped: every batch queued during one turn of the
// event loop is committed in one transaction (one fsync with synchronous=FULL), then all their promises
// resolve — a resolved write is on disk.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { EVENT_NAME_ATTR, RESOURCE } from '@meshlet/wire';
import type { TraceContribution } from '../analysis/contribution.ts';
import { addInto, type Counters } from '../analysis/merge.ts';
import { CollectorError } from '../errors.ts';
import { UNKNOWN_SERVICE } from '../analysis/facts.ts';
import { decodeStoredSpan, decodeStoredSpanAttributes } from '../otlp/decode-proto.ts';
import { encodeSpan } from '../otlp/encode.ts';
import {
  type LogRecordData,
  plainValue,
  type ResourceRecord,
  type ScopeRecord,
  spanEndNs,
  type SpanRecord,
  type StoredAttributes,
  type StoredValue,
  stringAttr,
} from '../otlp/model.ts';
import { MIGRATE_1_TO_2, MIGRATE_2_TO_3, MIGRATE_3_TO_4, SCHEMA, SCHEMA_VERSION, SPANS_PER_TRACE } from './schema.ts';
import type {
  AggregateKind,
  AggregateRow,
  LogQuery,
  OriginRow,
  PendingTrace,
  RetentionPolicy,
  ServiceRow,
  StoredLog,
  StoreStats,
  TraceQuery,
  TraceReader,
  TraceRow,
  TraceWriter,
  WriteBatch,
  WriteResult,
} from './store.ts';

export interface SqliteStoreOptions {
  /** Directory of the database (`meshlet.db` inside), or `:memory:`. */
  dir: string;
  /** `full`: every commit is fsynced (survives power loss); `normal`: survives a process crash only. */
  sync?: 'full' | 'normal';
  /**
   * Page cache size in MiB (default 16). Ingest only appends and the graph/failure queries read
   * aggregates kept in memory, so 32 MiB bought no speed and cost 7–25 MiB of peak RSS (bench/README.md).
   */
  cacheMiB?: number;
  now?: () => number;
}

export type SqliteStore = TraceWriter & TraceReader & { readonly path: string };

type Row = Record<string, string | number | bigint | null>;
type Pending = { batch: WriteBatch; resolve: (r: WriteResult) => void; reject: (e: unknown) => void };
/** The columns of a span row, in the order `insertSpan` binds them. */
const SPAN_COLUMNS = 'id, span_id, resource_id, scope_id, name, kind, status_code, data';
const SPAN_ROW = '(?, ?, ?, ?, ?, ?, ?, ?)';

const MAX_INTERNED = 10_000;
/** Aggregate buckets kept parsed in memory (an hour of 10 s buckets for each kind, and then some). */
const MAX_CACHED_BUCKETS = 5_000;
/**
 * Aggregate rows whose stored value the analysis keeps parsed: the rows of the buckets being filled (live
 * traffic touches one or two buckets, ~25 rows each); bounded because each holds latency histograms.
 */
const MAX_CURRENT_AGG = 600;

/** Opens (creating when needed) the store. */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const now = options.now ?? Date.now;
  let path = ':memory:';
  if (options.dir !== ':memory:') {
    mkdirSync(options.dir, { recursive: true });
    path = join(options.dir, 'meshlet.db');
  }
  const db = new DatabaseSync(path, { timeout: 5_000 });
  // auto_vacuum must be chosen before the first table exists; incremental lets retention give space back.
  db.exec('PRAGMA auto_vacuum = INCREMENTAL');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.exec(`PRAGMA cache_size = ${-1024 * (options.cacheMiB ?? 16)}`);
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as Row | undefined)?.value;
  let from = version === undefined ? SCHEMA_VERSION : Number(version);
  if (!Number.isInteger(from) || from < 1 || from > SCHEMA_VERSION) {
    throw new CollectorError('ERR_COLLECTOR_STORE', `${path} has schema version ${String(version)}; this collector reads version ${SCHEMA_VERSION}`);
  }
  /** Runs one migration step in one transaction (all or nothing). */
  const migrate = (step: () => void): void => {
    db.exec('BEGIN IMMEDIATE');
    try {
      step();
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new CollectorError('ERR_COLLECTOR_STORE', `${path}: cannot migrate the store from schema version ${from} to ${from + 1}: ${(err as Error).message}`);
    }
    from++;
  };
  // Version 1 keyed traces by their hex id only: give them integer ids.
  if (from === 1) migrate(() => db.exec(MIGRATE_1_TO_2));
  // Version 2 had a column per span field: keep each span as its OTLP Span message.
  if (from === 2) migrate(() => migrateSpansTo3(db));
  // Version 3 kept a (trace_ref, span_id) index: a span's row id now says its trace and position.
  if (from === 3) migrate(() => db.exec(MIGRATE_3_TO_4));
  db.exec(SCHEMA);
  if (version === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
  // attr_eq(json, key, value, nested): a stored attribute equals a query value (compared as text);
  // `nested` = 1 looks into a resource's `attributes`.
  db.function('attr_eq', { deterministic: true }, (json, key, value, nested) => {
    if (typeof json !== 'string' || typeof key !== 'string') return 0;
    const parsed = JSON.parse(json) as StoredAttributes | ResourceRecord;
    return attributeEquals((nested === 1 ? (parsed as ResourceRecord).attributes : parsed) as StoredAttributes, key, value);
  });
  // span_attr_eq(data, key, value): the same for an attribute of a stored span (its OTLP Span message).
  db.function('span_attr_eq', { deterministic: true }, (data, key, value) => {
    if (!(data instanceof Uint8Array) || typeof key !== 'string') return 0;
    return attributeEquals(decodeStoredSpanAttributes(data), key, value);
  });

  const stmt = (sql: string): StatementSync => db.prepare(sql);
  const cache = new Map<string, StatementSync>();
  const cached = (sql: string): StatementSync => {
    let s = cache.get(sql);
    if (s === undefined) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };

  const S = {
    // A conflict (a row id taken) would be a bug, so it fails the commit loudly.
    insertSpan: stmt(`INSERT INTO spans (${SPAN_COLUMNS}) VALUES ${SPAN_ROW}`),
    // The span ids stored for a trace, and the position of its last span (row id ranges, see SPANS_PER_TRACE).
    storedSpanIds: stmt('SELECT span_id FROM spans WHERE id >= ? AND id < ?'),
    lastSpanSeq: stmt('SELECT max(id) - ? AS seq FROM spans WHERE id >= ? AND id < ?'),
    // A new trace's row is created with its span count in one statement (the usual case: one batch holds
    // a trace's spans); a trace already stored is found, and updated once its new spans are known.
    createTrace: stmt('INSERT INTO traces (trace_id, start_us, end_us, span_count, last_received_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (trace_id) DO NOTHING'),
    findTrace: stmt('SELECT id FROM traces WHERE trace_id = ?'),
    updateTrace: stmt(`UPDATE traces SET start_us = min(start_us, ?), end_us = max(end_us, ?), span_count = span_count + ?,
      last_received_ms = ?, dirty = 1 WHERE id = ?`),
    insertLog: stmt(`INSERT OR IGNORE INTO logs (hash, time_ns, time_ms, observed_ns, severity_number, severity_text, body, attrs,
      dropped_attrs, flags, trace_id, span_id, event_name, event, resource_id, scope_id, service, pod)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    findResource: stmt('SELECT id FROM resources WHERE json = ?'),
    insertResource: stmt('INSERT INTO resources (json, service) VALUES (?, ?)'),
    resourceById: stmt('SELECT json FROM resources WHERE id = ?'),
    findScope: stmt('SELECT id FROM scopes WHERE json = ?'),
    insertScope: stmt('INSERT INTO scopes (json) VALUES (?)'),
    scopeById: stmt('SELECT json FROM scopes WHERE id = ?'),
    pending: stmt(`SELECT trace_id, span_count, analysed_count, last_received_ms FROM traces WHERE dirty = 1 AND last_received_ms < ?
      ORDER BY last_received_ms LIMIT ?`),
    traceSpans: stmt('SELECT resource_id, scope_id, data FROM spans WHERE id >= ? AND id < ? ORDER BY id'),
    firstSpans: stmt('SELECT resource_id, scope_id, data FROM spans WHERE id >= ? AND id < ? ORDER BY id LIMIT ?'),
    saveTrace: stmt(`UPDATE traces SET start_us = ?, end_us = ?, status = ?, error_count = ?, root_service = ?, root_name = ?, services = ?,
      origins = ?, run = ?, analysed_count = ?, dirty = (span_count != ?) WHERE trace_id = ?`),
    deleteOrigins: stmt('DELETE FROM origins WHERE trace_id = ?'),
    insertOrigin: stmt('INSERT INTO origins (trace_id, span_id, time_ms, service, operation, reason, message, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    upsertServiceOp: stmt(`INSERT INTO service_ops (service, operation, kind, count, last_ms) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET count = count + excluded.count, last_ms = max(last_ms, excluded.last_ms)`),
    upsertVersion: stmt(`INSERT INTO service_versions (service, version, last_ms) VALUES (?, ?, ?)
      ON CONFLICT DO UPDATE SET last_ms = max(last_ms, excluded.last_ms)`),
    getAgg: stmt('SELECT data FROM agg WHERE kind = ? AND bucket_ms = ? AND run = ? AND key = ?'),
    putAgg: stmt('INSERT INTO agg (kind, bucket_ms, run, key, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET data = excluded.data'),
    deleteAgg: stmt('DELETE FROM agg WHERE kind = ? AND bucket_ms = ? AND run = ? AND key = ?'),
    aggBuckets: stmt('SELECT DISTINCT bucket_ms FROM agg WHERE kind = ? AND bucket_ms >= ? AND bucket_ms < ?'),
    aggBucket: stmt('SELECT run, key, data FROM agg WHERE kind = ? AND bucket_ms = ?'),
    traceRow: stmt(`SELECT trace_id, start_us, end_us, span_count, error_count, root_service, root_name, services, status, origins, run
      FROM traces WHERE trace_id = ? AND status IS NOT NULL`),
    services: stmt('SELECT service, operation, kind, count, last_ms FROM service_ops ORDER BY service, count DESC, operation'),
    versions: stmt('SELECT service, version, last_ms FROM service_versions ORDER BY service, last_ms DESC'),
    oldTraces: stmt('SELECT trace_id FROM traces WHERE start_us < ? ORDER BY start_us LIMIT ?'),
    oldestTraces: stmt('SELECT trace_id, start_us FROM traces ORDER BY start_us LIMIT ?'),
    deleteSpans: stmt('DELETE FROM spans WHERE id >= ? AND id < ?'),
    deleteTrace: stmt('DELETE FROM traces WHERE trace_id = ?'),
    deleteOldLogs: stmt('DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time_ms < ? ORDER BY time_ms LIMIT ?)'),
    deleteOldAgg: stmt("DELETE FROM agg WHERE bucket_ms < ? AND kind != 'run'"),
    deleteOldRunAgg: stmt("DELETE FROM agg WHERE bucket_ms < ? AND kind = 'run'"),
  };

  /** Parsed aggregate rows per (kind, bucket); callers of `aggregates` must not mutate what they get. */
  const aggCache = new Map<string, AggregateRow[]>();
  /**
   * The stored value of recently updated aggregate rows (by `kind\u0001bucket\u0001run\u0001key`; null: no
   * row), so that the analysis does not read and parse a row back before each update.
   */
  const aggCurrent = new Map<string, Counters | null>();

  // Counters kept in memory (count(*) over a million rows is too slow for /metrics).
  const counts = {
    spans: Number((db.prepare('SELECT count(*) AS n FROM spans').get() as Row).n),
    traces: Number((db.prepare('SELECT count(*) AS n FROM traces').get() as Row).n),
    logs: Number((db.prepare('SELECT count(*) AS n FROM logs').get() as Row).n),
  };

  // Interning of resources and scopes: by object identity within a batch, by JSON text across batches.
  const resourceIds = new Map<string, number>();
  const scopeIds = new Map<string, number>();
  const resourcesById = new Map<number, ResourceRecord>();
  const scopesById = new Map<number, ScopeRecord>();
  let batchResources = new WeakMap<ResourceRecord, number>();
  let batchScopes = new WeakMap<ScopeRecord, number>();

  function internResource(r: ResourceRecord): number {
    const known = batchResources.get(r);
    if (known !== undefined) return known;
    const json = JSON.stringify(r);
    let id = resourceIds.get(json);
    if (id === undefined) {
      const row = S.findResource.get(json) as Row | undefined;
      id = row !== undefined ? Number(row.id) : Number(S.insertResource.run(json, stringAttr(r.attributes, RESOURCE.serviceName) ?? UNKNOWN_SERVICE).lastInsertRowid);
      if (resourceIds.size >= MAX_INTERNED) resourceIds.clear();
      resourceIds.set(json, id);
    }
    batchResources.set(r, id);
    return id;
  }

  function internScope(s: ScopeRecord): number {
    const known = batchScopes.get(s);
    if (known !== undefined) return known;
    const json = JSON.stringify(s);
    let id = scopeIds.get(json);
    if (id === undefined) {
      const row = S.findScope.get(json) as Row | undefined;
      id = row !== undefined ? Number(row.id) : Number(S.insertScope.run(json).lastInsertRowid);
      if (scopeIds.size >= MAX_INTERNED) scopeIds.clear();
      scopeIds.set(json, id);
    }
    batchScopes.set(s, id);
    return id;
  }

  function resourceOf(id: number): ResourceRecord {
    let r = resourcesById.get(id);
    if (r === undefined) {
      r = JSON.parse(String((S.resourceById.get(id) as Row).json)) as ResourceRecord;
      if (resourcesById.size >= MAX_INTERNED) resourcesById.clear();
      resourcesById.set(id, r);
    }
    return r;
  }

  function scopeOf(id: number): ScopeRecord {
    let s = scopesById.get(id);
    if (s === undefined) {
      s = JSON.parse(String((S.scopeById.get(id) as Row).json)) as ScopeRecord;
      if (scopesById.size >= MAX_INTERNED) scopesById.clear();
      scopesById.set(id, s);
    }
    return s;
  }

  const syncMode = options.sync === 'normal' ? 'NORMAL' : 'FULL';
  /**
   * Runs `fn` in one transaction. `durable = false` skips the fsync of this commit: for analysis results,
   * which are recomputed from the spans if lost (the trace stays pending). In WAL mode the next durable
   * commit's fsync covers the earlier frames too.
   */
  function transaction<T>(fn: () => T, durable = true): T {
    if (!durable && syncMode === 'FULL') db.exec('PRAGMA synchronous = NORMAL');
    try {
      return runTransaction(fn);
    } finally {
      if (!durable && syncMode === 'FULL') db.exec('PRAGMA synchronous = FULL');
    }
  }

  function runTransaction<T>(fn: () => T): T {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      db.exec('ROLLBACK');
      // Ids interned during the failed transaction were rolled back with it.
      resourceIds.clear();
      scopeIds.clear();
      // Aggregates updated in memory during the failed transaction were rolled back in the database.
      aggCurrent.clear();
      batchResources = new WeakMap();
      batchScopes = new WeakMap();
      throw err;
    }
  }

  // ---- writes ----
  let queue: Pending[] = [];
  let queuedItems = 0;
  let flushScheduled = false;
  let closed = false;

  /** Inserts one span row (`SPAN_COLUMNS`): the `seq`th span of trace row `ref`; `data` is its OTLP Span message. */
  function insertSpan(ref: number, seq: number, s: SpanRecord, data: Uint8Array): void {
    if (seq >= SPANS_PER_TRACE) throw new CollectorError('ERR_COLLECTOR_STORE', `trace ${s.traceId} has ${SPANS_PER_TRACE} spans, the most the store keeps per trace`);
    S.insertSpan.run(spanRowId(ref, seq), s.spanId, internResource(s.resource), internScope(s.scope), s.name, s.kind, s.statusCode, data);
  }

  /** Stores a batch; returns what it stored and how many trace rows it created. */
  function insertBatch(batch: WriteBatch, receivedMs: number): { result: WriteResult; newTraces: number } {
    const result: WriteResult = { insertedSpans: [], duplicateSpans: 0, insertedLogs: 0, duplicateLogs: 0 };
    let newTraces = 0;
    const all = batch.spans;
    const encoded = batch.encodedSpans;
    if (encoded !== undefined && encoded.length !== all.length) throw new Error(`${encoded.length} encoded spans for ${all.length} spans`);
    // The stored form of a span: its bytes as received, else its record encoded.
    const dataOf = (i: number): Uint8Array => encoded?.[i] ?? encodeSpan(all[i] as SpanRecord);
    // Spans (by index) by trace, each trace's spans in the batch's order.
    const byTrace = new Map<string, number[]>();
    for (let i = 0; i < all.length; i++) {
      const traceId = (all[i] as SpanRecord).traceId;
      const list = byTrace.get(traceId);
      if (list === undefined) byTrace.set(traceId, [i]);
      else list.push(i);
    }
    for (const [traceId, indexes] of byTrace) {
      const spans = indexes.length === 1 ? indexes : distinctSpans(all, indexes);
      result.duplicateSpans += indexes.length - spans.length;
      let startNs = (all[spans[0] as number] as SpanRecord).startTimeUnixNano;
      let endNs = startNs;
      for (const i of spans) {
        const s = all[i] as SpanRecord;
        if (s.startTimeUnixNano < startNs) startNs = s.startTimeUnixNano;
        const end = spanEndNs(s);
        if (end > endNs) endNs = end;
      }
      const startUs = Number(startNs / 1000n);
      const endUs = Number(endNs / 1000n);
      const created = S.createTrace.run(traceId, startUs, endUs, spans.length, receivedMs);
      if (created.changes > 0) {
        // A new trace: none of its spans can be stored yet. (One row per statement: multi-row INSERTs of
        // 16 spans measured 35 % more CPU per row with node:sqlite.)
        newTraces++;
        const ref = Number(created.lastInsertRowid);
        for (let seq = 0; seq < spans.length; seq++) {
          const i = spans[seq] as number;
          const s = all[i] as SpanRecord;
          insertSpan(ref, seq, s, dataOf(i));
          result.insertedSpans.push(s);
        }
        continue;
      }
      // A trace stored before: each span is inserted unless stored already, after the trace's last span.
      const ref = Number((S.findTrace.get(traceId) as Row).id);
      const [lo, hi] = spanRowRange(ref);
      const stored = new Set((S.storedSpanIds.all(lo, hi) as Row[]).map((r) => String(r.span_id)));
      const last = (S.lastSpanSeq.get(lo, lo, hi) as Row).seq;
      let seq = last === null ? 0 : Number(last) + 1;
      let inserted = 0;
      let firstNs = 0n;
      let lastNs = 0n;
      for (const i of spans) {
        const s = all[i] as SpanRecord;
        if (stored.has(s.spanId)) {
          result.duplicateSpans++;
          continue;
        }
        insertSpan(ref, seq++, s, dataOf(i));
        result.insertedSpans.push(s);
        const end = spanEndNs(s);
        if (inserted === 0 || s.startTimeUnixNano < firstNs) firstNs = s.startTimeUnixNano;
        if (inserted === 0 || end > lastNs) lastNs = end;
        inserted++;
      }
      if (inserted > 0) S.updateTrace.run(Number(firstNs / 1000n), Number(lastNs / 1000n), inserted, receivedMs, ref);
    }
    for (const l of batch.logs) {
      const resourceId = internResource(l.resource);
      const scopeId = internScope(l.scope);
      const body = JSON.stringify(l.body);
      const attrs = JSON.stringify(l.attributes);
      const timeNs = l.timeUnixNano !== 0n ? l.timeUnixNano : l.observedTimeUnixNano !== 0n ? l.observedTimeUnixNano : BigInt(receivedMs) * 1_000_000n;
      const event = l.eventName !== '' ? l.eventName : stringAttr(l.attributes, EVENT_NAME_ATTR);
      const hash = createHash('sha1')
        .update(`${resourceId}|${scopeId}|${l.timeUnixNano}|${l.observedTimeUnixNano}|${l.severityNumber}|${l.severityText}|${l.flags}|${l.traceId}|${l.spanId}|${l.eventName}|${l.droppedAttributesCount}|`)
        .update(body).update('|').update(attrs)
        .digest('base64');
      const r = S.insertLog.run(
        hash, l.timeUnixNano, Number(timeNs / 1_000_000n), l.observedTimeUnixNano, l.severityNumber, l.severityText, body, attrs,
        l.droppedAttributesCount, l.flags, l.traceId === '' ? null : l.traceId, l.spanId === '' ? null : l.spanId,
        l.eventName === '' ? null : l.eventName, event ?? null, resourceId, scopeId,
        stringAttr(l.resource.attributes, RESOURCE.serviceName) ?? UNKNOWN_SERVICE, stringAttr(l.resource.attributes, RESOURCE.pod) ?? null,
      );
      if (r.changes === 0) result.duplicateLogs++;
      else result.insertedLogs++;
    }
    return { result, newTraces };
  }

  function flush(): void {
    flushScheduled = false;
    const items = queue;
    queue = [];
    queuedItems = 0;
    if (items.length === 0) return;
    const receivedMs = now();
    let results: WriteResult[];
    let newTraces = 0;
    try {
      results = transaction(() => {
        const out = items.map((p) => {
          const stored = insertBatch(p.batch, receivedMs);
          newTraces += stored.newTraces;
          return stored.result;
        });
        return out;
      });
    } catch (err) {
      const error = new CollectorError('ERR_COLLECTOR_STORE', `cannot store the batch: ${(err as Error).message}`);
      for (const p of items) p.reject(error);
      return;
    }
    batchResources = new WeakMap();
    batchScopes = new WeakMap();
    for (const r of results) {
      counts.spans += r.insertedSpans.length;
      counts.logs += r.insertedLogs;
    }
    counts.traces += newTraces;
    for (let i = 0; i < items.length; i++) (items[i] as Pending).resolve(results[i] as WriteResult);
  }

  // ---- analysis records ----
  function applyContribution(deltas: Map<string, { kind: AggregateKind; bucketMs: number; run: string; key: string; data: Counters }>, c: TraceContribution, sign: 1 | -1): void {
    const add = (kind: AggregateKind, bucketMs: number, key: string, data: Counters): void => {
      const id = `${kind}\u0001${bucketMs}\u0001${c.run}\u0001${key}`;
      let d = deltas.get(id);
      if (d === undefined) deltas.set(id, (d = { kind, bucketMs, run: c.run, key, data: {} }));
      addInto(d.data, data, sign);
    };
    for (const [k, v] of Object.entries(c.nodes)) add('node', c.bucketMs, k, v);
    for (const [k, v] of Object.entries(c.edges)) add('edge', c.bucketMs, k, v);
    for (const [k, v] of Object.entries(c.points)) add('point', c.bucketMs, k, v);
    if (c.runSecond !== null) add('run', c.runSecond.tMs, c.run, c.runSecond.data);
  }

  const writer: TraceWriter = {
    write(batch: WriteBatch): Promise<WriteResult> {
      if (closed) return Promise.reject(new CollectorError('ERR_COLLECTOR_STORE', 'the store is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ batch, resolve, reject });
        queuedItems += batch.spans.length + batch.logs.length;
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    },
    get queuedItems() {
      return queuedItems;
    },
    pendingTraces(quietBeforeMs: number, limit: number): PendingTrace[] {
      return (S.pending.all(quietBeforeMs, limit) as Row[]).map((r) => ({
        traceId: String(r.trace_id),
        spanCount: Number(r.span_count),
        analysedBefore: Number(r.analysed_count) > 0,
        lastReceivedMs: Number(r.last_received_ms),
        analysedCount: Number(r.analysed_count),
      }));
    },
    traceSpans,
    saveAnalyses(items) {
      if (items.length === 0) return;
      transaction(() => {
        const deltas = new Map<string, { kind: AggregateKind; bucketMs: number; run: string; key: string; data: Counters }>();
        // Operations and versions are counted per call, not per trace: one upsert per distinct key.
        const ops = new Map<string, [string, string, number, number, number]>();
        const versions = new Map<string, [string, string, number]>();
        for (const { analysis: a, contribution, spanCount, previous } of items) {
          if (previous !== null) applyContribution(deltas, previous, -1);
          applyContribution(deltas, contribution, 1);
          const startMs = Math.floor(a.startMs);
          const r = S.saveTrace.run(
            Number(a.startNs / 1000n), Number(a.endNs / 1000n), a.status === 'error' ? 1 : 0, a.errorCount, a.root.service, a.root.name,
            JSON.stringify(a.services), JSON.stringify(a.origins.map((o) => ({ service: o.service, operation: o.operation, reason: o.reason, spanId: o.spanId }))),
            a.run ?? null, spanCount, spanCount, a.traceId,
          );
          if (r.changes === 0) continue; // pruned meanwhile
          if (previous !== null) S.deleteOrigins.run(a.traceId);
          for (const op of a.operations) {
            const key = `${op.service}\t${op.name}\t${op.kind}`;
            const known = ops.get(key);
            if (known === undefined) ops.set(key, [op.service, op.name, op.kind, 1, startMs]);
            else {
              known[3]++;
              known[4] = Math.max(known[4], startMs);
            }
          }
          for (const v of a.versions) {
            const key = `${v.service}\t${v.version}`;
            const known = versions.get(key);
            if (known === undefined || known[2] < startMs) versions.set(key, [v.service, v.version, startMs]);
          }
          for (const o of a.origins) S.insertOrigin.run(a.traceId, o.spanId, Math.floor(o.timeMs), o.service, o.operation, o.reason, o.message, a.run ?? null);
        }
        for (const [service, operation, kind, count, lastMs] of ops.values()) S.upsertServiceOp.run(service, operation, kind, count, lastMs);
        for (const [service, version, lastMs] of versions.values()) S.upsertVersion.run(service, version, lastMs);
        if (aggCurrent.size + deltas.size > MAX_CURRENT_AGG) aggCurrent.clear();
        for (const [id, d] of deltas) {
          let current = aggCurrent.get(id);
          if (current === undefined) {
            const row = S.getAgg.get(d.kind, d.bucketMs, d.run, d.key) as Row | undefined;
            current = row === undefined ? null : (JSON.parse(String(row.data)) as Counters);
          }
          const existed = current !== null;
          current = addInto(current ?? {}, d.data, 1);
          if (hasCounts(current)) S.putAgg.run(d.kind, d.bucketMs, d.run, d.key, JSON.stringify(current));
          else {
            if (existed) S.deleteAgg.run(d.kind, d.bucketMs, d.run, d.key);
            current = null;
          }
          aggCurrent.set(id, current);
          aggCache.delete(`${d.kind}\u0001${d.bucketMs}`);
        }
      }, false);
    },
    prune(policy: RetentionPolicy) {
      const removed = { traces: 0, spans: 0, logs: 0 };
      const cutoffMs = policy.nowMs - policy.maxAgeMs;
      const deleteTraces = (ids: string[]): void => {
        transaction(() => {
          for (const id of ids) {
            const ref = S.findTrace.get(id) as Row | undefined;
            if (ref !== undefined) removed.spans += Number(S.deleteSpans.run(...spanRowRange(Number(ref.id))).changes);
            S.deleteOrigins.run(id);
            removed.traces += Number(S.deleteTrace.run(id).changes);
          }
        });
      };
      // By age, in chunks so one call never blocks the event loop for long.
      const old = (S.oldTraces.all(cutoffMs * 1000, 5_000) as Row[]).map((r) => String(r.trace_id));
      if (old.length > 0) deleteTraces(old);
      removed.logs += Number(S.deleteOldLogs.run(cutoffMs, 20_000).changes);
      if (Number(S.deleteOldAgg.run(cutoffMs).changes) + Number(S.deleteOldRunAgg.run(cutoffMs).changes) > 0) {
        aggCache.clear();
        aggCurrent.clear();
      }
      // By size: drop the oldest 5 % of traces (and older logs) per step.
      if (usedBytes() > policy.maxBytes && counts.traces > 0) {
        const step = (S.oldestTraces.all(Math.max(100, Math.ceil(counts.traces * 0.05))) as Row[]);
        deleteTraces(step.map((r) => String(r.trace_id)));
        const lastUs = Number(step.at(-1)?.start_us ?? 0);
        removed.logs += Number(S.deleteOldLogs.run(Math.floor(lastUs / 1000), 20_000).changes);
        if (counts.traces - removed.traces <= 0) removed.logs += Number(S.deleteOldLogs.run(policy.nowMs + 1, 1_000_000).changes);
      }
      counts.spans -= removed.spans;
      counts.traces -= removed.traces;
      counts.logs -= removed.logs;
      if (removed.spans + removed.logs > 0) db.exec('PRAGMA incremental_vacuum(2000)');
      return removed;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (queue.length > 0) flush();
      // Fold the WAL back so the database file stands alone.
      try {
        db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
      await Promise.resolve();
    },
  };

  function usedBytes(): number {
    const pageSize = Number((db.prepare('PRAGMA page_size').get() as Row).page_size);
    const pages = Number((db.prepare('PRAGMA page_count').get() as Row).page_count);
    const free = Number((db.prepare('PRAGMA freelist_count').get() as Row).freelist_count);
    return (pages - free) * pageSize;
  }

  function traceSpans(traceId: string, firstWritten?: number): SpanRecord[] {
    const found = S.findTrace.get(traceId) as Row | undefined;
    if (found === undefined) return [];
    const [lo, hi] = spanRowRange(Number(found.id));
    const rows = (firstWritten === undefined ? S.traceSpans.all(lo, hi) : S.firstSpans.all(lo, hi, firstWritten)) as SpanRow[];
    const spans = rows.map((r) => decodeStoredSpan(r.data, resourceOf(Number(r.resource_id)), scopeOf(Number(r.scope_id))));
    // All spans: by start time, then in write order (the sort is stable); the first written: in write order.
    if (firstWritten === undefined) spans.sort(byStart);
    return spans;
  }

  // ---- reads ----
  function traceRowOf(r: Row): TraceRow {
    const startUs = Number(r.start_us);
    return {
      traceId: String(r.trace_id),
      startMs: startUs / 1000,
      durationMs: (Number(r.end_us) - startUs) / 1000,
      spanCount: Number(r.span_count),
      errorCount: Number(r.error_count ?? 0),
      rootService: String(r.root_service ?? ''),
      rootOperation: String(r.root_name ?? ''),
      services: JSON.parse(String(r.services ?? '[]')) as string[],
      status: Number(r.status) === 1 ? 'error' : 'ok',
      origins: JSON.parse(String(r.origins ?? '[]')) as TraceRow['origins'],
      run: r.run === null || r.run === undefined ? undefined : String(r.run),
    };
  }

  const reader: TraceReader = {
    traceSpans,
    traceRow(traceId: string): TraceRow | null {
      const r = S.traceRow.get(traceId) as Row | undefined;
      return r === undefined ? null : traceRowOf(r);
    },
    searchTraces(q: TraceQuery) {
      const where: string[] = ['t.status IS NOT NULL', 't.start_us >= ?', 't.start_us < ?'];
      const params: (string | number)[] = [q.fromMs * 1000, q.toMs * 1000];
      // `services` is the trace's sorted JSON list of service names: a service matches as "name" in it.
      if (q.service !== undefined) {
        where.push('instr(t.services, ?) > 0');
        params.push(JSON.stringify(q.service));
      }
      if (q.operation !== undefined) {
        where.push(`EXISTS (SELECT 1 FROM spans o${q.service !== undefined ? ' JOIN resources ro ON ro.id = o.resource_id' : ''}
          WHERE ${spansOf('o', 't.id')} AND o.name = ?${q.service !== undefined ? ' AND ro.service = ?' : ''})`);
        params.push(q.operation);
        if (q.service !== undefined) params.push(q.service);
      }
      if (q.status !== undefined) {
        where.push('t.status = ?');
        params.push(q.status === 'error' ? 1 : 0);
      }
      if (q.originService !== undefined || q.reason !== undefined) {
        const cond: string[] = [];
        if (q.originService !== undefined) {
          cond.push('g.service = ?');
          params.push(q.originService);
        }
        if (q.reason !== undefined) {
          cond.push('g.reason = ?');
          params.push(q.reason);
        }
        where.push(`EXISTS (SELECT 1 FROM origins g WHERE g.trace_id = t.trace_id AND ${cond.join(' AND ')})`);
      }
      if (q.minDurationMs !== undefined) {
        where.push('t.end_us - t.start_us >= ?');
        params.push(Math.round(q.minDurationMs * 1000));
      }
      if (q.maxDurationMs !== undefined) {
        where.push('t.end_us - t.start_us <= ?');
        params.push(Math.round(q.maxDurationMs * 1000));
      }
      if (q.run !== undefined) {
        where.push('t.run = ?');
        params.push(q.run);
      }
      const onService = q.attributesOnService === true && q.service !== undefined;
      for (const [key, value] of q.attributes ?? []) {
        where.push(`EXISTS (SELECT 1 FROM spans s JOIN resources r ON r.id = s.resource_id WHERE ${spansOf('s', 't.id')}${onService ? ' AND r.service = ?' : ''} AND (${attributeCondition(key)}))`);
        if (onService) params.push(q.service as string);
        params.push(...attributeParams(key, value));
      }
      const sql = `SELECT t.trace_id, t.start_us, t.end_us, t.span_count, t.error_count, t.root_service, t.root_name, t.services, t.status,
        t.origins, t.run FROM traces t WHERE ${where.join(' AND ')} ORDER BY t.start_us DESC LIMIT ?`;
      const rows = cached(sql).all(...params, q.limit + 1) as Row[];
      const truncated = rows.length > q.limit;
      return { traces: rows.slice(0, q.limit).map(traceRowOf), truncated };
    },
    logs(q: LogQuery): StoredLog[] {
      const where: string[] = ['time_ms >= ?', 'time_ms < ?'];
      const params: (string | number)[] = [q.fromMs, q.toMs];
      if (q.traceId !== undefined) {
        where.push('trace_id = ?');
        params.push(q.traceId);
      }
      if (q.service !== undefined) {
        where.push('service = ?');
        params.push(q.service);
      }
      if (q.pod !== undefined) {
        where.push('pod = ?');
        params.push(q.pod);
      }
      if (q.eventName !== undefined) {
        where.push('event = ?');
        params.push(q.eventName);
      } else if (q.eventsOnly === true) where.push('event IS NOT NULL');
      for (const name of q.excludeEvents ?? []) {
        where.push('(event IS NULL OR event != ?)');
        params.push(name);
      }
      if (q.severityMin !== undefined) {
        where.push('severity_number >= ?');
        params.push(q.severityMin);
      }
      const sql = `SELECT CAST(time_ns AS TEXT) AS time_ns, time_ms, CAST(observed_ns AS TEXT) AS observed_ns, severity_number, severity_text,
        body, attrs, dropped_attrs, flags, trace_id, span_id, event_name, event, resource_id, scope_id FROM logs
        WHERE ${where.join(' AND ')} ORDER BY time_ms ${q.ascending === true ? 'ASC' : 'DESC'}, id LIMIT ?`;
      return (cached(sql).all(...params, q.limit) as Row[]).map((r) => ({
        timeUnixNano: BigInt(String(r.time_ns)),
        observedTimeUnixNano: BigInt(String(r.observed_ns)),
        severityNumber: Number(r.severity_number),
        severityText: String(r.severity_text),
        body: JSON.parse(String(r.body)) as StoredValue,
        attributes: JSON.parse(String(r.attrs)) as StoredAttributes,
        droppedAttributesCount: Number(r.dropped_attrs),
        flags: Number(r.flags),
        traceId: r.trace_id === null ? '' : String(r.trace_id),
        spanId: r.span_id === null ? '' : String(r.span_id),
        eventName: r.event_name === null ? '' : String(r.event_name),
        event: r.event === null ? '' : String(r.event),
        timeMs: Number(r.time_ms),
        resource: resourceOf(Number(r.resource_id)),
        scope: scopeOf(Number(r.scope_id)),
      }));
    },
    services(): ServiceRow[] {
      const out = new Map<string, ServiceRow>();
      const get = (name: string): ServiceRow => {
        let s = out.get(name);
        if (s === undefined) out.set(name, (s = { name, operations: [], versions: [], lastSeenMs: 0 }));
        return s;
      };
      for (const r of S.services.all() as Row[]) {
        const s = get(String(r.service));
        s.operations.push({ name: String(r.operation), kind: Number(r.kind), count: Number(r.count) });
        s.lastSeenMs = Math.max(s.lastSeenMs, Number(r.last_ms));
      }
      for (const r of S.versions.all() as Row[]) get(String(r.service)).versions.push(String(r.version));
      return [...out.values()];
    },
    aggregates(kind: AggregateKind, fromMs: number, toMs: number, run?: string): AggregateRow[] {
      // Buckets are read through a cache of parsed rows: old buckets never change, so a graph over the
      // last hour parses only the buckets the analysis touched since the previous query.
      const out: AggregateRow[] = [];
      for (const b of S.aggBuckets.all(kind, fromMs, toMs) as Row[]) {
        const bucketMs = Number(b.bucket_ms);
        const cacheKey = `${kind}\u0001${bucketMs}`;
        let rows = aggCache.get(cacheKey);
        if (rows === undefined) {
          rows = (S.aggBucket.all(kind, bucketMs) as Row[]).map((r) => ({
            bucketMs,
            run: String(r.run),
            key: String(r.key),
            data: JSON.parse(String(r.data)) as Counters,
          }));
          if (aggCache.size >= MAX_CACHED_BUCKETS) aggCache.clear();
          aggCache.set(cacheKey, rows);
        }
        for (const row of rows) if (run === undefined || row.run === run) out.push(row);
      }
      return out;
    },
    origins(service, operation, reason, fromMs, toMs, limit, run): OriginRow[] {
      const sql = `SELECT trace_id, span_id, time_ms, service, operation, reason, message FROM origins
        WHERE service = ? AND operation = ? AND reason = ? AND time_ms >= ? AND time_ms < ?${run !== undefined ? ' AND run = ?' : ''}
        ORDER BY time_ms DESC LIMIT ?`;
      const params: (string | number)[] = [service, operation, reason, fromMs, toMs];
      if (run !== undefined) params.push(run);
      return (cached(sql).all(...params, limit) as Row[]).map((r) => ({
        traceId: String(r.trace_id),
        spanId: String(r.span_id),
        timeMs: Number(r.time_ms),
        service: String(r.service),
        operation: String(r.operation),
        reason: String(r.reason),
        message: String(r.message),
      }));
    },
    stats(): StoreStats {
      const range = db.prepare('SELECT min(start_us) AS lo, max(end_us) AS hi FROM traces').get() as Row;
      const pending = db.prepare('SELECT count(*) AS n FROM traces WHERE dirty = 1').get() as Row;
      return {
        spans: counts.spans,
        traces: counts.traces,
        logs: counts.logs,
        pendingTraces: Number(pending.n),
        oldestSpanMs: range.lo === null ? null : Math.floor(Number(range.lo) / 1000),
        newestSpanMs: range.hi === null ? null : Math.floor(Number(range.hi) / 1000),
        usedBytes: usedBytes(),
      };
    },
  };

  return { ...writer, ...reader, path, get queuedItems() { return queuedItems; } };
}

/** Special Jaeger-style tags, then span and resource attributes. */
function attributeCondition(key: string): string {
  if (key === 'error') return 's.status_code = ?';
  if (key === 'span.kind') return 's.kind = ?';
  if (key === 'otel.status_code') return 's.status_code = ?';
  return 'span_attr_eq(s.data, ?, ?) OR attr_eq(r.json, ?, ?, 1)';
}

const KINDS: Record<string, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS: Record<string, number> = { UNSET: 0, OK: 1, ERROR: 2 };

function attributeParams(key: string, value: string): (string | number)[] {
  if (key === 'error') return [value === 'true' ? 2 : -1];
  if (key === 'span.kind') return [KINDS[value] ?? -1];
  if (key === 'otel.status_code') return [STATUS[value.toUpperCase()] ?? -1];
  return [key, value, key, value];
}

/** True when an aggregate still counts something (labels and first/last times alone do not). */
function hasCounts(record: Counters): boolean {
  for (const key of Object.keys(record)) {
    const v = record[key];
    if (typeof v === 'number' && key !== 'firstMs' && key !== 'lastMs' && v !== 0) return true;
    if (typeof v === 'object' && hasCounts(v)) return true;
  }
  return false;
}

/** The row id of the `seq`th span of trace row `ref` (see SPANS_PER_TRACE); a bigint beyond 2^53. */
function spanRowId(ref: number, seq: number): number | bigint {
  const id = ref * SPANS_PER_TRACE + seq;
  return Number.isSafeInteger(id) ? id : BigInt(ref) * BigInt(SPANS_PER_TRACE) + BigInt(seq);
}

/** The row ids of trace row `ref`'s spans: from the first (inclusive) to the next trace's first (exclusive). */
function spanRowRange(ref: number): [number | bigint, number | bigint] {
  return [spanRowId(ref, 0), spanRowId(ref + 1, 0)];
}

/** SQL: the rows of table alias `alias` that are spans of the trace whose row id is `ref` (an SQL expression). */
function spansOf(alias: string, ref: string): string {
  return `${alias}.id >= ${ref} * ${SPANS_PER_TRACE} AND ${alias}.id < (${ref} + 1) * ${SPANS_PER_TRACE}`;
}

/** A trace's spans (indexes into `spans`) without repeated span ids (the first of each kept). */
function distinctSpans(spans: SpanRecord[], indexes: number[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const i of indexes) {
    const id = (spans[i] as SpanRecord).spanId;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(i);
  }
  return out.length === indexes.length ? indexes : out;
}

type SpanRow = { resource_id: number; scope_id: number; data: Uint8Array };

function byStart(a: SpanRecord, b: SpanRecord): number {
  return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0;
}

/** A stored attribute equals a query value, compared as text (a list or map as its JSON). */
function attributeEquals(attrs: StoredAttributes, key: string, value: unknown): 0 | 1 {
  if (!Object.hasOwn(attrs, key)) return 0;
  const v = plainValue(attrs[key] as StoredValue);
  return (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)) === String(value) ? 1 : 0;
}

/** Version 2 → 3: every span row re-encoded as its OTLP Span message (resource and scope stay interned). */
function migrateSpansTo3(db: DatabaseSync): void {
  db.exec(MIGRATE_2_TO_3.BEFORE);
  const insert = db.prepare(MIGRATE_2_TO_3.INSERT);
  const resource: ResourceRecord = { attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };
  const scope: ScopeRecord = { name: '', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };
  for (const r of db.prepare(MIGRATE_2_TO_3.OLD_ROWS).iterate() as Iterable<Row>) {
    const s = spanOfV2Row(r, resource, scope);
    insert.run(r.id as number, r.trace_ref as number, s.spanId, r.resource_id as number, r.scope_id as number, s.name, s.kind, s.statusCode, encodeSpan(s));
  }
  db.exec(MIGRATE_2_TO_3.AFTER);
}

/** Version 2's JSON of a span event and of a link. */
type V2Event = [string, string, StoredAttributes, number];
type V2Link = [string, string, string, StoredAttributes, number, number];

/** A span from its row in schema version 2 (a column per field, attributes as JSON). */
function spanOfV2Row(r: Row, resource: ResourceRecord, scope: ScopeRecord): SpanRecord {
  const events = r.events === null ? [] : (JSON.parse(String(r.events)) as V2Event[]);
  const links = r.links === null ? [] : (JSON.parse(String(r.links)) as V2Link[]);
  return {
    traceId: String(r.trace_id),
    spanId: String(r.span_id),
    parentSpanId: String(r.parent_span_id),
    traceState: String(r.trace_state),
    flags: Number(r.flags),
    name: String(r.name),
    kind: Number(r.kind),
    startTimeUnixNano: BigInt(String(r.start_ns)),
    endTimeUnixNano: BigInt(String(r.end_ns)),
    attributes: JSON.parse(String(r.attrs)) as StoredAttributes,
    droppedAttributesCount: Number(r.dropped_attrs),
    events: events.map(([t, name, attributes, dropped]) => ({ timeUnixNano: BigInt(t), name, attributes, droppedAttributesCount: dropped })),
    droppedEventsCount: Number(r.dropped_events),
    links: links.map(([traceId, spanId, traceState, attributes, dropped, flags]) => ({ traceId, spanId, traceState, attributes, droppedAttributesCount: dropped, flags })),
    droppedLinksCount: Number(r.dropped_links),
    statusCode: Number(r.status_code),
    statusMessage: String(r.status_message),
    resource,
    scope,
  };
}

export type { LogRecordData };
