// Encodes the collector's OTLP responses (export responses with partial success, google.rpc.Status) in
// protobuf or JSON, and export requests from records (for fixtures, the benchmark and tests).
import type { LogRecordData, ResourceRecord, ScopeRecord, SpanRecord, StoredAttributes, StoredValue } from './model.ts';
import { ProtoWriter } from './proto-writer.ts';

export type OtlpEncoding = 'protobuf' | 'json';

/** gRPC status codes used in `google.rpc.Status` bodies. */
export const RPC_CODE = Object.freeze({ invalidArgument: 3, resourceExhausted: 8, unavailable: 14, internal: 13, unimplemented: 12 });

/**
 * `ExportTraceServiceResponse` / `ExportLogsServiceResponse`: empty on full success, else
 * `partial_success { rejected_spans|rejected_log_records = 1; error_message = 2; }`.
 */
export function encodeExportResponse(signal: 'traces' | 'logs', rejected: number, message: string, encoding: OtlpEncoding): Buffer {
  const partial = rejected > 0 || message !== '';
  if (encoding === 'json') {
    if (!partial) return Buffer.from('{}');
    const key = signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords';
    // int64 fields are strings in proto3 JSON.
    return Buffer.from(JSON.stringify({ partialSuccess: { [key]: String(rejected), errorMessage: message } }));
  }
  const w = new ProtoWriter(64);
  if (partial) w.messageField(1, (p) => p.int64Field(1, rejected).stringField(2, message));
  return w.finish();
}

/** `google.rpc.Status { int32 code = 1; string message = 2; }` */
export function encodeStatus(code: number, message: string, encoding: OtlpEncoding): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }));
  return new ProtoWriter(64).int32Field(1, code).stringField(2, message).finish();
}

function writeValue(w: ProtoWriter, v: StoredValue): void {
  if (v === null) return;
  if (typeof v === 'string') w.stringField(1, v, true);
  else if (typeof v === 'boolean') w.boolField(2, v, true);
  else if (typeof v === 'number') {
    if (Number.isInteger(v)) w.int64Field(3, v, true);
    else w.doubleField(4, v, true);
  } else if (Array.isArray(v)) w.messageField(5, (a) => { for (const item of v) a.messageField(1, (x) => writeValue(x, item)); });
  else if ('i' in v) w.int64Field(3, BigInt(v.i), true);
  else if ('d' in v) w.doubleField(4, typeof v.d === 'number' ? v.d : v.d === '-0' ? -0 : Number(v.d), true);
  else if ('b' in v) w.bytesField(7, Buffer.from(v.b, 'base64'), true);
  else w.messageField(6, (kv) => writeAttributes(kv, 1, v.kv));
}

function writeAttributes(w: ProtoWriter, field: number, attrs: StoredAttributes): void {
  for (const key of Object.keys(attrs)) {
    w.messageField(field, (kv) => {
      kv.stringField(1, key);
      kv.messageField(2, (x) => writeValue(x, attrs[key] as StoredValue));
    });
  }
}

function writeResource(w: ProtoWriter, r: ResourceRecord): void {
  w.messageField(1, (res) => {
    writeAttributes(res, 1, r.attributes);
    res.uint32Field(2, r.droppedAttributesCount);
  });
}

function writeScope(w: ProtoWriter, s: ScopeRecord): void {
  w.messageField(1, (sc) => {
    sc.stringField(1, s.name).stringField(2, s.version);
    writeAttributes(sc, 3, s.attributes);
    sc.uint32Field(4, s.droppedAttributesCount);
  });
}

const hex = (id: string): Buffer => Buffer.from(id, 'hex');

/** Groups items by resource object, then scope object, keeping their order. */
function group<T extends { resource: ResourceRecord; scope: ScopeRecord }>(items: T[]): Map<ResourceRecord, Map<ScopeRecord, T[]>> {
  const out = new Map<ResourceRecord, Map<ScopeRecord, T[]>>();
  for (const item of items) {
    let scopes = out.get(item.resource);
    if (scopes === undefined) out.set(item.resource, (scopes = new Map<ScopeRecord, T[]>()));
    let list = scopes.get(item.scope);
    if (list === undefined) scopes.set(item.scope, (list = []));
    list.push(item);
  }
  return out;
}

/** Encodes spans as an `ExportTraceServiceRequest` (grouped by their resource and scope objects). */
export function encodeTraceRequest(spans: SpanRecord[]): Buffer {
  const w = new ProtoWriter(spans.length * 300 + 64);
  for (const [resource, scopes] of group(spans)) {
    w.messageField(1, (rs) => {
      writeResource(rs, resource);
      for (const [scope, list] of scopes) {
        rs.messageField(2, (ss) => {
          writeScope(ss, scope);
          for (const s of list) ss.messageField(2, (x) => writeSpan(x, s));
          ss.stringField(3, scope.schemaUrl);
        });
      }
      rs.stringField(3, resource.schemaUrl);
    });
  }
  return w.finish();
}

/** One span as an OTLP `Span` message (what the store keeps of a span that did not arrive as protobuf). */
export function encodeSpan(s: SpanRecord): Uint8Array {
  const w = new ProtoWriter(512);
  writeSpan(w, s);
  return w.finish();
}

function writeSpan(w: ProtoWriter, s: SpanRecord): void {
  w.bytesField(1, hex(s.traceId)).bytesField(2, hex(s.spanId)).stringField(3, s.traceState).bytesField(4, hex(s.parentSpanId));
  w.stringField(5, s.name).int32Field(6, s.kind).fixed64Field(7, s.startTimeUnixNano).fixed64Field(8, s.endTimeUnixNano);
  writeAttributes(w, 9, s.attributes);
  w.uint32Field(10, s.droppedAttributesCount);
  for (const e of s.events) {
    w.messageField(11, (x) => {
      x.fixed64Field(1, e.timeUnixNano).stringField(2, e.name);
      writeAttributes(x, 3, e.attributes);
      x.uint32Field(4, e.droppedAttributesCount);
    });
  }
  w.uint32Field(12, s.droppedEventsCount);
  for (const l of s.links) {
    w.messageField(13, (x) => {
      x.bytesField(1, hex(l.traceId)).bytesField(2, hex(l.spanId)).stringField(3, l.traceState);
      writeAttributes(x, 4, l.attributes);
      x.uint32Field(5, l.droppedAttributesCount).fixed32Field(6, l.flags);
    });
  }
  w.uint32Field(14, s.droppedLinksCount);
  if (s.statusCode !== 0 || s.statusMessage !== '') w.messageField(15, (x) => x.stringField(2, s.statusMessage).int32Field(3, s.statusCode));
  w.fixed32Field(16, s.flags);
}

/** Encodes log records as an `ExportLogsServiceRequest`. */
export function encodeLogsRequest(logs: LogRecordData[]): Buffer {
  const w = new ProtoWriter(logs.length * 300 + 64);
  for (const [resource, scopes] of group(logs)) {
    w.messageField(1, (rl) => {
      writeResource(rl, resource);
      for (const [scope, list] of scopes) {
        rl.messageField(2, (sl) => {
          writeScope(sl, scope);
          for (const l of list) {
            sl.messageField(2, (x) => {
              x.fixed64Field(1, l.timeUnixNano).int32Field(2, l.severityNumber).stringField(3, l.severityText);
              if (l.body !== null) x.messageField(5, (b) => writeValue(b, l.body));
              writeAttributes(x, 6, l.attributes);
              x.uint32Field(7, l.droppedAttributesCount).fixed32Field(8, l.flags);
              x.bytesField(9, hex(l.traceId)).bytesField(10, hex(l.spanId)).fixed64Field(11, l.observedTimeUnixNano);
              x.stringField(12, l.eventName);
            });
          }
          sl.stringField(3, scope.schemaUrl);
        });
      }
      rl.stringField(3, resource.schemaUrl);
    });
  }
  return w.finish();
}

function jsonValue(v: StoredValue): Record<string, unknown> {
  if (v === null) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(jsonValue) } };
  if ('i' in v) return { intValue: v.i };
  if ('d' in v) return { doubleValue: typeof v.d === 'number' ? v.d : v.d };
  if ('b' in v) return { bytesValue: v.b };
  return { kvlistValue: { values: jsonAttributes(v.kv) } };
}

function jsonAttributes(attrs: StoredAttributes): { key: string; value: Record<string, unknown> }[] {
  return Object.keys(attrs).map((key) => ({ key, value: jsonValue(attrs[key] as StoredValue) }));
}

/** Encodes spans as OTLP/JSON text (timestamps as decimal strings, ids as hex). */
export function encodeTraceJson(spans: SpanRecord[]): string {
  const resourceSpans = [...group(spans)].map(([resource, scopes]) => ({
    resource: { attributes: jsonAttributes(resource.attributes), droppedAttributesCount: resource.droppedAttributesCount },
    schemaUrl: resource.schemaUrl,
    scopeSpans: [...scopes].map(([scope, list]) => ({
      scope: { name: scope.name, version: scope.version, attributes: jsonAttributes(scope.attributes), droppedAttributesCount: scope.droppedAttributesCount },
      schemaUrl: scope.schemaUrl,
      spans: list.map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        traceState: s.traceState,
        flags: s.flags,
        name: s.name,
        kind: s.kind,
        startTimeUnixNano: s.startTimeUnixNano.toString(),
        endTimeUnixNano: s.endTimeUnixNano.toString(),
        attributes: jsonAttributes(s.attributes),
        droppedAttributesCount: s.droppedAttributesCount,
        events: s.events.map((e) => ({ timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: jsonAttributes(e.attributes), droppedAttributesCount: e.droppedAttributesCount })),
        droppedEventsCount: s.droppedEventsCount,
        links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: l.traceState, attributes: jsonAttributes(l.attributes), droppedAttributesCount: l.droppedAttributesCount, flags: l.flags })),
        droppedLinksCount: s.droppedLinksCount,
        status: { code: s.statusCode, message: s.statusMessage },
      })),
    })),
  }));
  return JSON.stringify({ resourceSpans });
}

/** Encodes log records as OTLP/JSON text. */
export function encodeLogsJson(logs: LogRecordData[]): string {
  const resourceLogs = [...group(logs)].map(([resource, scopes]) => ({
    resource: { attributes: jsonAttributes(resource.attributes), droppedAttributesCount: resource.droppedAttributesCount },
    schemaUrl: resource.schemaUrl,
    scopeLogs: [...scopes].map(([scope, list]) => ({
      scope: { name: scope.name, version: scope.version, attributes: jsonAttributes(scope.attributes) },
      schemaUrl: scope.schemaUrl,
      logRecords: list.map((l) => ({
        timeUnixNano: l.timeUnixNano.toString(),
        observedTimeUnixNano: l.observedTimeUnixNano.toString(),
        severityNumber: l.severityNumber,
        severityText: l.severityText,
        body: jsonValue(l.body),
        attributes: jsonAttributes(l.attributes),
        droppedAttributesCount: l.droppedAttributesCount,
        flags: l.flags,
        traceId: l.traceId,
        spanId: l.spanId,
        eventName: l.eventName,
      })),
    })),
  }));
  return JSON.stringify({ resourceLogs });
}
