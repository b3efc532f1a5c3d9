import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom, TraceBuilder } from '../../test/fixtures/trace-builder.ts';
import { OtlpDecodeError } from '../errors.ts';
import { decodeLogsJson, decodeTraceJson } from './decode-json.ts';
import { decodeLogsRequest, decodeTraceRequest } from './decode-proto.ts';
import { encodeLogsJson, encodeLogsRequest, encodeTraceJson, encodeTraceRequest } from './encode.ts';
import type { LogRecordData, SpanRecord } from './model.ts';
import { ProtoWriter } from './proto-writer.ts';

function sampleSpans(): SpanRecord[] {
  const b = new TraceBuilder({ random: seededRandom(42), startNs: 1_544_712_660_000_000_123n });
  const root = b.server('gateway', 'GET /x', null, { durationMs: 3.000_001, error: 'app_error' });
  const child = b.request('gateway', 'catalog', 'GET /y', root, { atMs: 1 });
  child.attributes = {
    ...child.attributes,
    big: { i: '9007199254740993' },
    negative: -42,
    minInt: { i: '-9223372036854775808' },
    pi: 3.25,
    whole: { d: 2 },
    nan: { d: 'NaN' },
    negZero: { d: '-0' },
    bytes: { b: 'AAEC/w==' },
    list: ['a', 1, true, null, { kv: { nested: 'x' } }],
    empty: null,
    kv: { kv: { a: 1, b: [1.5] } },
  };
  child.events = [{ timeUnixNano: 1_544_712_660_000_500_001n, name: 'retry', attributes: { n: 2 }, droppedAttributesCount: 1 }];
  child.links = [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceState: 'k=v', attributes: { why: 'batch' }, droppedAttributesCount: 0, flags: 257 }];
  child.traceState = 'vendor=1';
  child.droppedAttributesCount = 3;
  child.droppedEventsCount = 4;
  child.droppedLinksCount = 5;
  child.flags = 0x101;
  return b.spans();
}

function sampleLogs(spans: SpanRecord[]): LogRecordData[] {
  const s = spans[0] as SpanRecord;
  return [
    {
      timeUnixNano: 1_544_712_660_000_000_123n,
      observedTimeUnixNano: 1_544_712_660_000_000_999n,
      severityNumber: 17,
      severityText: 'ERROR',
      body: { kv: { msg: 'boom', code: 7 } },
      attributes: { 'event.name': 'meshlet.pod.restarted', 'meshlet.pod.restarts': 2 },
      droppedAttributesCount: 0,
      flags: 1,
      traceId: s.traceId,
      spanId: s.spanId,
      eventName: 'meshlet.pod.restarted',
      resource: s.resource,
      scope: s.scope,
    },
  ];
}

test('protobuf: spans survive encode → decode field by field (int64 beyond 2^53, doubles, bytes, lists, links)', () => {
  const spans = sampleSpans();
  const decoded = decodeTraceRequest(encodeTraceRequest(spans));
  assert.equal(decoded.rejected, 0);
  assert.deepEqual(decoded.items, spans);
});

test('JSON: spans survive encode → decode, and nanosecond timestamps stay exact', () => {
  const spans = sampleSpans();
  const decoded = decodeTraceJson(encodeTraceJson(spans));
  assert.deepEqual(decoded.items, spans);
  // The same timestamp as a bare JSON number (which a double cannot hold).
  const text = encodeTraceJson(spans).replace('"startTimeUnixNano":"1544712660000000123"', '"startTimeUnixNano":1544712660000000123');
  assert.match(text, /"startTimeUnixNano":1544712660000000123/);
  assert.equal(decodeTraceJson(text).items[0]?.startTimeUnixNano, 1_544_712_660_000_000_123n);
});

test('logs survive both encodings', () => {
  const logs = sampleLogs(sampleSpans());
  assert.deepEqual(decodeLogsRequest(encodeLogsRequest(logs)).items, logs);
  assert.deepEqual(decodeLogsJson(encodeLogsJson(logs)).items, logs);
});

test('JSON: proto field names, enum names, int64 as numbers, unknown fields', () => {
  const text = JSON.stringify({
    resource_spans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], futureField: 1 },
      scope_spans: [{
        spans: [{
          trace_id: '5B8EFFF798038103D269B633813FC60C',
          span_id: 'EEE19B7EC3C1B174',
          name: 'op',
          kind: 'SPAN_KIND_SERVER',
          start_time_unix_nano: 1000,
          end_time_unix_nano: '2000',
          attributes: [{ key: 'n', value: { intValue: 5 } }, { key: 's', value: { intValue: '-7' } }],
          status: { code: 'STATUS_CODE_ERROR', message: 'x' },
          somethingNew: { deep: true },
        }],
      }],
    }],
  });
  const [s] = decodeTraceJson(text).items;
  assert.equal(s?.traceId, '5b8efff798038103d269b633813fc60c');
  assert.equal(s?.kind, 2);
  assert.equal(s?.statusCode, 2);
  assert.equal(s?.endTimeUnixNano, 2000n);
  assert.deepEqual(s?.attributes, { n: 5, s: -7 });
  assert.equal(s?.resource.attributes['service.name'], 'svc');
});

test('bad spans are rejected one by one (partial success); malformed requests fail with the field path', () => {
  const spans = sampleSpans();
  (spans[1] as SpanRecord).spanId = '00';
  const decoded = decodeTraceRequest(encodeTraceRequest(spans));
  assert.equal(decoded.items.length, spans.length - 1);
  assert.equal(decoded.rejected, 1);
  assert.match(decoded.rejectMessages[0] as string, /spanId must be 8 bytes/);

  // A span whose name field claims more bytes than there are.
  const w = new ProtoWriter();
  w.messageField(1, (rs) => rs.messageField(2, (ss) => ss.messageField(2, (sp) => sp.tag(5, 2).varint(50))));
  assert.throws(() => decodeTraceRequest(w.finish()), (err: unknown) => {
    assert.ok(err instanceof OtlpDecodeError);
    assert.equal(err.code, 'ERR_COLLECTOR_MALFORMED');
    assert.deepEqual(err.path, ['resourceSpans[0]', 'scopeSpans[0]', 'spans[0]']);
    return true;
  });
  assert.throws(() => decodeTraceJson('{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}'), /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]: startTimeUnixNano must be/);
  assert.throws(() => decodeTraceJson('{"resourceSpans": 3}'), /resourceSpans must be an array/);
  assert.throws(() => decodeTraceJson('{not json'), /invalid JSON/);
});

test('protobuf: attribute keys read through the key cache stay exact (same length, many keys, long, non-ASCII)', () => {
  const spans = sampleSpans();
  const span = spans[0] as SpanRecord;
  const keys: string[] = [];
  // 40 keys of one length (more than the cache keeps per length), differing in their last byte only.
  for (let i = 0; i < 40; i++) keys.push(`key.${String(i).padStart(3, '0')}`);
  keys.push('k'.repeat(100), 'clé.ünïcode', 'a', 'b');
  const attributes = Object.fromEntries(keys.map((k, i) => [k, i]));
  const batch = Array.from({ length: 3 }, () => ({ ...span, attributes }));
  for (let round = 0; round < 2; round++) {
    const decoded = decodeTraceRequest(encodeTraceRequest(batch));
    for (const s of decoded.items) assert.deepEqual(s.attributes, attributes);
  }
});

test('protobuf with attributeKeys: spans keep only those attributes, everything else as without; the others are still checked', () => {
  const spans = sampleSpans();
  const keys = new Set(['list', 'kv', 'pi', 'meshlet.error.reason', 'absent']);
  const full = decodeTraceRequest(encodeTraceRequest(spans));
  const some = decodeTraceRequest(encodeTraceRequest(spans), { attributeKeys: keys });
  assert.deepEqual(some.encoded, full.encoded);
  assert.equal(some.items.length, spans.length);
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i] as SpanRecord;
    const kept = Object.fromEntries(Object.entries(s.attributes).filter(([k]) => keys.has(k)));
    assert.deepEqual(some.items[i], { ...s, attributes: kept });
  }
  assert.ok(Object.keys((some.items[1] as SpanRecord).attributes).length >= 3);

  // A value before its key; a kept key without a value (null, as without attributeKeys).
  const w = new ProtoWriter();
  w.messageField(1, (rs) => rs.messageField(2, (ss) => ss.messageField(2, (sp) => {
    sp.bytesField(1, Buffer.alloc(16, 1)).bytesField(2, Buffer.alloc(8, 2));
    sp.messageField(9, (kv) => kv.messageField(2, (v) => v.stringField(1, 'late key')).stringField(1, 'pi'));
    sp.messageField(9, (kv) => kv.stringField(1, 'kv'));
    sp.messageField(9, (kv) => kv.stringField(1, 'dropped').messageField(2, (v) => v.stringField(1, 'x')));
  })));
  const body = w.finish();
  assert.deepEqual(decodeTraceRequest(body, { attributeKeys: keys }).items[0]?.attributes, { pi: 'late key', kv: null });
  assert.deepEqual(decodeTraceRequest(body).items[0]?.attributes, { pi: 'late key', kv: null, dropped: 'x' });

  // A malformed value under a key not kept fails as it does without attributeKeys: truncated, and an
  // unsupported wire type deep in a kvlist.
  const bad = (value: (v: ProtoWriter) => void): Buffer => {
    const m = new ProtoWriter();
    m.messageField(1, (rs) => rs.messageField(2, (ss) => ss.messageField(2, (sp) => sp.messageField(9, (kv) => kv.stringField(1, 'other').messageField(2, value)))));
    return m.finish();
  };
  for (const body of [bad((v) => v.tag(1, 2).varint(50)), bad((v) => v.messageField(6, (l) => l.messageField(1, (kv) => kv.messageField(2, (x) => x.tag(3, 7)))))]) {
    assert.throws(() => decodeTraceRequest(body), OtlpDecodeError);
    assert.throws(() => decodeTraceRequest(body, { attributeKeys: keys }), (err: unknown) => {
      assert.ok(err instanceof OtlpDecodeError);
      assert.deepEqual(err.path, ['resourceSpans[0]', 'scopeSpans[0]', 'spans[0]']);
      return true;
    });
  }
});
