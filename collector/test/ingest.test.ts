// OTLP/HTTP ingest over real sockets: encodings, gzip, limits, errors, partial success, backpressure, dedupe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { TraceDetail, TraceSearchResponse } from '@meshlet/wire';
import { encodeTraceJson, encodeTraceRequest } from '../src/otlp/encode.ts';
import { ProtoReader } from '../src/otlp/proto-reader.ts';
import { ProtoWriter } from '../src/otlp/proto-writer.ts';
import { shopTrace } from './fixtures/shop.ts';
import { seededRandom } from './fixtures/trace-builder.ts';
import { body as toBody, getJson, startCollector, waitFor } from './helpers.ts';

const PROTO = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

function readStatus(body: Buffer): { code: number; message: string } {
  const r = new ProtoReader(body);
  const out = { code: 0, message: '' };
  while (r.more()) {
    const tag = r.tag();
    if (tag === 8) out.code = r.int32();
    else if (tag === 18) out.message = r.string();
    else r.skip(tag & 7);
  }
  return out;
}

async function post(url: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; type: string | null; body: Buffer; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body: toBody(body), headers });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

test('protobuf and JSON on /v1/traces: acknowledged in the request encoding, stored, analysed, nanoseconds exact', async (t) => {
  const c = await startCollector(t);
  const random = seededRandom(7);
  const failed = shopTrace('pricing-app-error', { random, startNs: BigInt(Date.now()) * 1_000_000n + 123n });
  const ok = shopTrace('ok', { random });

  const r1 = await post(`${c.otlp}/v1/traces`, encodeTraceRequest(failed.spans), PROTO);
  assert.equal(r1.status, 200);
  assert.equal(r1.type, 'application/x-protobuf');
  assert.equal(r1.body.length, 0, 'full success: an empty ExportTraceServiceResponse');

  const r2 = await post(`${c.otlp}/v1/traces`, encodeTraceJson(ok.spans), JSON_TYPE);
  assert.equal(r2.status, 200);
  assert.equal(r2.type, 'application/json');
  assert.deepEqual(JSON.parse(r2.body.toString()), {});

  const traceId = failed.spans[0]!.traceId;
  const detail = await waitFor(async () => {
    const r = await getJson<TraceDetail>(`${c.http}/api/v1/traces/${traceId}`);
    return r.status === 200 && r.body.origins.length > 0 ? r.body : undefined;
  });
  assert.equal(detail.spans.length, failed.spans.length);
  const root = detail.spans.find((s) => s.parentSpanId === null)!;
  assert.equal(root.startTimeUnixNano, failed.spans[0]!.startTimeUnixNano.toString());
  assert.match(root.startTimeUnixNano, /123$/);
  const origin = detail.spans.find((s) => s.role === 'origin')!;
  assert.deepEqual([origin.service, origin.reason, origin.errorOrigin], ['pricing', 'app_error', 'app']);
  assert.ok(detail.propagation.length >= 3);

  const search = await waitFor(async () => {
    const r = await getJson<TraceSearchResponse>(`${c.http}/api/v1/traces?status=error&originService=pricing`);
    return r.body.traces.length === 1 ? r.body : undefined;
  });
  assert.equal(search.traces[0]?.traceId, traceId);
  assert.deepEqual(search.traces[0]?.origins.map((o) => [o.service, o.reason]), [['pricing', 'app_error']]);
});

test('gzip bodies are inflated; a gzip bomb gets 413 without inflating past the limit', async (t) => {
  const c = await startCollector(t, { maxBody: '1Mi' });
  const trace = shopTrace('ok', { random: seededRandom(8) });
  const ok = await post(`${c.otlp}/v1/traces`, gzipSync(encodeTraceRequest(trace.spans)), { ...PROTO, 'content-encoding': 'gzip' });
  assert.equal(ok.status, 200);

  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros, ~64 KiB compressed
  assert.ok(bomb.length < 200_000);
  const before = process.memoryUsage().arrayBuffers;
  const res = await post(`${c.otlp}/v1/traces`, bomb, { ...PROTO, 'content-encoding': 'gzip' });
  assert.equal(res.status, 413);
  const status = readStatus(res.body);
  assert.equal(status.code, 8);
  assert.match(status.message, /exceeds the limit of 1048576 bytes after decompression/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024, 'the bomb was not inflated in memory');

  const corrupt = await post(`${c.otlp}/v1/traces`, Buffer.from('not gzip at all'), { ...PROTO, 'content-encoding': 'gzip' });
  assert.equal(corrupt.status, 400);
  const enc = await post(`${c.otlp}/v1/traces`, Buffer.from('x'), { ...PROTO, 'content-encoding': 'br' });
  assert.equal(enc.status, 415);
});

test('malformed requests get 400 with a google.rpc.Status saying where; wrong types get 415', async (t) => {
  const c = await startCollector(t);
  const w = new ProtoWriter();
  w.messageField(1, (rs) => rs.messageField(2, (ss) => ss.messageField(2, (sp) => sp.tag(5, 2).varint(99))));
  const res = await post(`${c.otlp}/v1/traces`, w.finish(), PROTO);
  assert.equal(res.status, 400);
  assert.equal(res.type, 'application/x-protobuf');
  const status = readStatus(res.body);
  assert.equal(status.code, 3);
  assert.match(status.message, /^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]: truncated message/);

  const json = await post(`${c.otlp}/v1/traces`, '{"resourceSpans": {}}', JSON_TYPE);
  assert.equal(json.status, 400);
  assert.equal(json.type, 'application/json');
  assert.deepEqual(JSON.parse(json.body.toString()), { code: 3, message: 'resourceSpans must be an array' });

  const type = await post(`${c.otlp}/v1/traces`, 'x', { 'content-type': 'text/plain' });
  assert.equal(type.status, 415);
  assert.match((JSON.parse(type.body.toString()) as { message: string }).message, /application\/x-protobuf or application\/json/);
  const path = await post(`${c.otlp}/v1/metrics`, 'x', PROTO);
  assert.equal(path.status, 404);
  const get = await fetch(`${c.otlp}/v1/traces`);
  assert.equal(get.status, 405);
});

test('individually bad spans are rejected with partial success; the rest is stored', async (t) => {
  const c = await startCollector(t);
  const trace = shopTrace('ok', { random: seededRandom(9) });
  trace.spans[2]!.traceId = 'abc';
  const res = await post(`${c.otlp}/v1/traces`, encodeTraceJson(trace.spans), JSON_TYPE);
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body.toString()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
  assert.equal(body.partialSuccess.rejectedSpans, '1');
  assert.match(body.partialSuccess.errorMessage, /rejected 1 spans: spans\[2\]: traceId must be 16 bytes/);

  const proto = await post(`${c.otlp}/v1/traces`, encodeTraceRequest([{ ...trace.spans[0]!, spanId: '0000000000000000' }]), PROTO);
  const r = new ProtoReader(proto.body);
  assert.equal(r.tag(), 10);
  const p = r.message();
  assert.equal(p.tag(), 8);
  assert.equal(p.int64(), 1);
  const health = await getJson<{ spansStored: number }>(`${c.http}/api/v1/health`);
  assert.equal(health.body.spansStored, trace.spans.length - 1);
});

test('duplicates are stored once; a full queue answers 503 with Retry-After', async (t) => {
  const c = await startCollector(t, { maxQueue: 5 });
  const trace = shopTrace('ok', { random: seededRandom(10) });
  const small = trace.spans.slice(0, 4);
  for (let i = 0; i < 3; i++) assert.equal((await post(`${c.otlp}/v1/traces`, encodeTraceRequest(small), PROTO)).status, 200);
  const health = await getJson<{ spansStored: number; tracesStored: number }>(`${c.http}/api/v1/health`);
  assert.equal(health.body.spansStored, 4);
  assert.equal(health.body.tracesStored, 1);

  const full = await post(`${c.otlp}/v1/traces`, encodeTraceRequest(trace.spans), PROTO);
  assert.equal(full.status, 503);
  assert.equal(full.headers.get('retry-after'), '2');
  assert.equal(readStatus(full.body).code, 14);
  const metrics = await (await fetch(`${c.http}/metrics`)).text();
  assert.match(metrics, /meshlet_collector_refused_total\{signal="traces",reason="busy"\} \d+/);
  assert.match(metrics, /meshlet_collector_dropped_total\{signal="traces",reason="duplicate"\} 8/);
  assert.match(metrics, /meshlet_collector_stored_total\{signal="traces"\} 4/);
});

test('forwards what it stored to the next OTLP endpoint (--forward)', async (t) => {
  const next = await startCollector(t);
  const c = await startCollector(t, { forward: next.otlp });
  const trace = shopTrace('catalog-timeout', { random: seededRandom(11) });
  assert.equal((await post(`${c.otlp}/v1/traces`, encodeTraceRequest(trace.spans), PROTO)).status, 200);
  assert.equal((await post(`${c.otlp}/v1/traces`, encodeTraceJson(shopTrace('ok', { random: seededRandom(12) }).spans), JSON_TYPE)).status, 200);
  const id = trace.spans[0]!.traceId;
  const forwarded = await waitFor(async () => {
    const r = await getJson<TraceDetail>(`${next.http}/api/v1/traces/${id}`);
    return r.status === 200 && r.body.spans.length === trace.spans.length ? r.body : undefined;
  });
  assert.equal(forwarded.spans.find((s) => s.parentSpanId === null)?.startTimeUnixNano, trace.spans[0]!.startTimeUnixNano.toString());
  const health = await waitFor(async () => {
    const r = await getJson<{ spansStored: number }>(`${next.http}/api/v1/health`);
    return r.body.spansStored === trace.spans.length + 10 ? r.body : undefined;
  });
  assert.ok(health);
  const metrics = await (await fetch(`${c.http}/metrics`)).text();
  assert.match(metrics, /meshlet_collector_forwarded_requests_total\{signal="traces",outcome="ok"\} 2/);
});

test('late spans: a trace analysed from its first pieces is analysed again when the rest arrives', async (t) => {
  const c = await startCollector(t);
  const trace = shopTrace('pricing-app-error', { random: seededRandom(13) });
  const id = trace.spans[0]!.traceId;
  // The gateway's sidecar exports first; catalog's and pricing's spans come a while later.
  const gateway = trace.spans.filter((s) => s.resource.attributes['service.name'] === 'gateway');
  const rest = trace.spans.filter((s) => s.resource.attributes['service.name'] !== 'gateway');
  assert.equal((await post(`${c.otlp}/v1/traces`, encodeTraceRequest(gateway), PROTO)).status, 200);
  const first = await waitFor(async () => {
    const r = await getJson<TraceSearchResponse>(`${c.http}/api/v1/traces?status=error`);
    return r.body.traces.length === 1 ? r.body.traces[0] : undefined;
  });
  assert.deepEqual(first.origins.map((o) => o.service), ['catalog'], 'with only the gateway spans, catalog looks like the origin');
  assert.equal((await post(`${c.otlp}/v1/traces`, encodeTraceRequest(rest), PROTO)).status, 200);
  const second = await waitFor(async () => {
    const r = await getJson<TraceSearchResponse>(`${c.http}/api/v1/traces?status=error`);
    const tr = r.body.traces[0];
    return tr !== undefined && tr.origins[0]?.service === 'pricing' ? tr : undefined;
  });
  assert.equal(second.traceId, id);
  assert.equal(second.spanCount, trace.spans.length);
  assert.deepEqual(second.origins.map((o) => [o.service, o.reason]), [['pricing', 'app_error']]);
  const failures = (await getJson<{ points: { service: string; count: number }[] }>(`${c.http}/api/v1/failures`)).body.points;
  assert.deepEqual(failures.map((p) => [p.service, p.count]), [['pricing', 1]], 'the first analysis was taken back');
  const metrics = await (await fetch(`${c.http}/metrics`)).text();
  assert.match(metrics, /meshlet_collector_traces_analysed_total\{kind="late"\} 1/);
});
