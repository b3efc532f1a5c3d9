// Decodes OTLP/HTTP protobuf export requests (ExportTraceServiceRequest, ExportLogsServiceRequest) into
// the collector's records. The schema is written here from the field numbers of opentelemetry-proto
// (opentelemetry/proto/{collector,trace,logs,common,resource}/v1/*.proto):
//
//   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
//   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
//   ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
//   Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
//          fixed32 flags = 16; string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7;
//          fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
//          repeated Event events = 11; uint32 dropped_events_count = 12; repeated Link links = 13;
//          uint32 dropped_links_count = 14; Status status = 15; }
//   Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
//   Link  { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
//           uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
//   Status { string message = 2; StatusCode code = 3; }
//   ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
//   ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
//   ScopeLogs    { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
//   LogRecord { fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11; SeverityNumber severity_number = 2;
//               string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6;
//               uint32 dropped_attributes_count = 7; fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10;
//               string event_name = 12; }
//   Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
//   InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
//   KeyValue { string key = 1; AnyValue value = 2; }
//   AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
//              ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
//   ArrayValue { repeated AnyValue values = 1; }   KeyValueList { repeated KeyValue values = 1; }
import { rethrowWithin } from '../errors.ts';
import {
  type DecodedBatch,
  type LogRecordData,
  type ResourceRecord,
  type ScopeRecord,
  type SpanEventRecord,
  type SpanLinkRecord,
  type SpanRecord,
  type StoredAttributes,
  type StoredValue,
  storedDouble,
  storedInt,
} from './model.ts';
import { ProtoReader, WIRE } from './proto-reader.ts';
import { checkLogIds, checkSpanIds, recordItem } from './validate.ts';

// Tags (field number << 3 | wire type) of the fields read below.
const T = (field: number, wire: number): number => (field << 3) | wire;
const LEN = WIRE.len;
const VARINT = WIRE.varint;
const F64 = WIRE.fixed64;
const F32 = WIRE.fixed32;

/** How one signal nests its items: ResourceX { scope_x = 2 } → ScopeX { items = 2 }. */
interface Shape<T> {
  resources: string;
  scopes: string;
  items: string;
  item(r: ProtoReader, resource: ResourceRecord, scope: ScopeRecord): T;
  /** Why the item alone is rejected (partial success), or null. */
  check(item: T): string | null;
}

const checkHexSpanIds = (s: SpanRecord): string | null => checkSpanIds(s, true);

/**
 * Decodes an `ExportTraceServiceRequest`. Throws `OtlpDecodeError` (with the field path) when malformed.
 * `encoded` holds each kept span's `Span` message as received (views into `body`).
 *
 * With `attributeKeys`, a span's `attributes` hold only those keys (the others are checked as strictly, but
 * not made into strings and objects): for a caller that keeps `encoded` as the span and reads only a few
 * attributes (the receiver: the store keeps the bytes, the analysis reads `FACT_ATTRIBUTES`).
 */
export function decodeTraceRequest(body: Buffer, options: { attributeKeys?: ReadonlySet<string> } = {}): DecodedBatch<SpanRecord> & { encoded: Uint8Array[] } {
  const out = { items: [] as SpanRecord[], rejected: 0, rejectMessages: [] as string[], encoded: [] as Uint8Array[] };
  const keys = options.attributeKeys;
  const item = keys === undefined ? span : (r: ProtoReader, resource: ResourceRecord, scope: ScopeRecord): SpanRecord => span(r, resource, scope, keys);
  decodeRequest(body, { resources: 'resourceSpans', scopes: 'scopeSpans', items: 'spans', item, check: checkHexSpanIds }, out);
  return out;
}

/**
 * A span from its stored `Span` message (as `decodeTraceRequest` kept it, or as `encodeSpan` wrote it),
 * with the ingest's normalisation (an all-zero parent id is a root).
 */
export function decodeStoredSpan(bytes: Uint8Array, resource: ResourceRecord, scope: ScopeRecord): SpanRecord {
  const s = span(new ProtoReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), resource, scope);
  checkSpanIds(s, true);
  return s;
}

/** The attributes (field 9) of a stored `Span` message, nothing else decoded. */
export function decodeStoredSpanAttributes(bytes: Uint8Array): StoredAttributes {
  const r = new ProtoReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const attributes: StoredAttributes = {};
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(9, LEN)) keyValue(r, attributes);
    else r.skip(tag & 7);
  }
  return attributes;
}

/** Decodes an `ExportLogsServiceRequest`. Throws `OtlpDecodeError` when malformed. */
export function decodeLogsRequest(body: Buffer): DecodedBatch<LogRecordData> {
  return decodeRequest(body, { resources: 'resourceLogs', scopes: 'scopeLogs', items: 'logRecords', item: logRecord, check: checkLogIds });
}

/** Calls `fn` with each embedded message in field `field` of `r`, naming it `name[i]` in decode errors. */
function eachMessage(r: ProtoReader, field: number, name: string, fn: (m: ProtoReader, index: number) => void): void {
  let index = 0;
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(field, LEN)) {
      const m = r.message();
      try {
        fn(m, index);
      } catch (err) {
        rethrowWithin(err, `${name}[${index}]`);
      }
      index++;
    } else r.skip(tag & 7);
  }
}

function decodeRequest<T>(body: Buffer, shape: Shape<T>, out: DecodedBatch<T> = { items: [], rejected: 0, rejectMessages: [] }): DecodedBatch<T> {
  const encoded = out.encoded;
  eachMessage(new ProtoReader(body), 1, shape.resources, (rm) => {
    // The resource may come after the scopes: read it first, then go over the scopes.
    const resource = readResourceEnvelope(rm);
    rm.pos = resource.start;
    eachMessage(rm, 2, shape.scopes, (sm) => {
      const scope = readScopeEnvelope(sm);
      sm.pos = scope.start;
      let index = 0;
      while (sm.more()) {
        const tag = sm.tag();
        if (tag !== T(2, LEN)) {
          sm.skip(tag & 7);
          continue;
        }
        let item: T;
        const m = sm.message();
        const start = m.pos;
        try {
          item = shape.item(m, resource.record, scope.record);
        } catch (err) {
          rethrowWithin(err, `${shape.items}[${index}]`);
        }
        const problem = shape.check(item);
        recordItem(out, item, problem, `${shape.items}[${index}]`);
        if (problem === null && encoded !== undefined) encoded.push(body.subarray(start, m.end));
        index++;
      }
    });
  });
  return out;
}

/** First pass over a Resource* message: the resource (field 1) and schema_url (field 3). */
function readResourceEnvelope(r: ProtoReader): { record: ResourceRecord; start: number } {
  const start = r.pos;
  const record: ResourceRecord = { attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) {
      try {
        const m = r.message();
        while (m.more()) {
          const t = m.tag();
          if (t === T(1, LEN)) keyValue(m, record.attributes);
          else if (t === T(2, VARINT)) record.droppedAttributesCount = m.uint32();
          else m.skip(t & 7);
        }
      } catch (err) {
        rethrowWithin(err, 'resource');
      }
    } else if (tag === T(3, LEN)) record.schemaUrl = r.string();
    else r.skip(tag & 7);
  }
  return { record, start };
}

function readScopeEnvelope(r: ProtoReader): { record: ScopeRecord; start: number } {
  const start = r.pos;
  const record: ScopeRecord = { name: '', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) {
      try {
        const m = r.message();
        while (m.more()) {
          const t = m.tag();
          if (t === T(1, LEN)) record.name = m.string();
          else if (t === T(2, LEN)) record.version = m.string();
          else if (t === T(3, LEN)) keyValue(m, record.attributes);
          else if (t === T(4, VARINT)) record.droppedAttributesCount = m.uint32();
          else m.skip(t & 7);
        }
      } catch (err) {
        rethrowWithin(err, 'scope');
      }
    } else if (tag === T(3, LEN)) record.schemaUrl = r.string();
    else r.skip(tag & 7);
  }
  return { record, start };
}

/** Bytes of an id field as hex; a wrong length is kept as-is (hex of what came) and judged by `checkSpanIds`. */
function idField(r: ProtoReader): string {
  return r.hex();
}

function span(r: ProtoReader, resource: ResourceRecord, scope: ScopeRecord, keys?: ReadonlySet<string>): SpanRecord {
  const s: SpanRecord = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    statusCode: 0,
    statusMessage: '',
    resource,
    scope,
  };
  while (r.more()) {
    const tag = r.tag();
    switch (tag) {
      case T(1, LEN): s.traceId = idField(r); break;
      case T(2, LEN): s.spanId = idField(r); break;
      case T(3, LEN): s.traceState = r.string(); break;
      case T(4, LEN): s.parentSpanId = idField(r); break;
      case T(16, F32): s.flags = r.fixed32(); break;
      case T(5, LEN): s.name = r.string(); break;
      case T(6, VARINT): s.kind = r.int32(); break;
      case T(7, F64): s.startTimeUnixNano = r.fixed64(); break;
      case T(8, F64): s.endTimeUnixNano = r.fixed64(); break;
      case T(9, LEN):
        if (keys === undefined) keyValue(r, s.attributes);
        else keyValueOf(r, s.attributes, keys);
        break;
      case T(10, VARINT): s.droppedAttributesCount = r.uint32(); break;
      case T(11, LEN): s.events.push(spanEvent(r.message())); break;
      case T(12, VARINT): s.droppedEventsCount = r.uint32(); break;
      case T(13, LEN): s.links.push(spanLink(r.message())); break;
      case T(14, VARINT): s.droppedLinksCount = r.uint32(); break;
      case T(15, LEN): {
        const m = r.message();
        while (m.more()) {
          const t = m.tag();
          if (t === T(2, LEN)) s.statusMessage = m.string();
          else if (t === T(3, VARINT)) s.statusCode = m.int32();
          else m.skip(t & 7);
        }
        break;
      }
      default: r.skip(tag & 7);
    }
  }
  return s;
}

function spanEvent(r: ProtoReader): SpanEventRecord {
  const e: SpanEventRecord = { timeUnixNano: 0n, name: '', attributes: {}, droppedAttributesCount: 0 };
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, F64)) e.timeUnixNano = r.fixed64();
    else if (tag === T(2, LEN)) e.name = r.string();
    else if (tag === T(3, LEN)) keyValue(r, e.attributes);
    else if (tag === T(4, VARINT)) e.droppedAttributesCount = r.uint32();
    else r.skip(tag & 7);
  }
  return e;
}

function spanLink(r: ProtoReader): SpanLinkRecord {
  const l: SpanLinkRecord = { traceId: '', spanId: '', traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 };
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) l.traceId = idField(r);
    else if (tag === T(2, LEN)) l.spanId = idField(r);
    else if (tag === T(3, LEN)) l.traceState = r.string();
    else if (tag === T(4, LEN)) keyValue(r, l.attributes);
    else if (tag === T(5, VARINT)) l.droppedAttributesCount = r.uint32();
    else if (tag === T(6, F32)) l.flags = r.fixed32();
    else r.skip(tag & 7);
  }
  return l;
}

function logRecord(r: ProtoReader, resource: ResourceRecord, scope: ScopeRecord): LogRecordData {
  const l: LogRecordData = {
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    body: null,
    attributes: {},
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
    resource,
    scope,
  };
  while (r.more()) {
    const tag = r.tag();
    switch (tag) {
      case T(1, F64): l.timeUnixNano = r.fixed64(); break;
      case T(11, F64): l.observedTimeUnixNano = r.fixed64(); break;
      case T(2, VARINT): l.severityNumber = r.int32(); break;
      case T(3, LEN): l.severityText = r.string(); break;
      case T(5, LEN): l.body = anyValue(r); break;
      case T(6, LEN): keyValue(r, l.attributes); break;
      case T(7, VARINT): l.droppedAttributesCount = r.uint32(); break;
      case T(8, F32): l.flags = r.fixed32(); break;
      case T(9, LEN): l.traceId = idField(r); break;
      case T(10, LEN): l.spanId = idField(r); break;
      case T(12, LEN): l.eventName = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  return l;
}

/** Reads one KeyValue (the embedded message at `r`'s position) into `into`. */
function keyValue(r: ProtoReader, into: StoredAttributes): void {
  const outer = r.enter();
  let key = '';
  let value: StoredValue = null;
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) key = r.key();
    else if (tag === T(2, LEN)) value = anyValue(r);
    else r.skip(tag & 7);
  }
  r.leave(outer);
  into[key] = value;
}

/** `keyValue` for a key in `keys`; any other KeyValue is only checked (`checkKeyValue`). */
function keyValueOf(r: ProtoReader, into: StoredAttributes, keys: ReadonlySet<string>): void {
  const outer = r.enter();
  let key = '';
  // Where the (last) value starts: it is read once the key is known (a key may follow its value).
  let valueAt = -1;
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) key = r.key();
    else if (tag === T(2, LEN)) {
      valueAt = r.pos;
      checkAnyValue(r);
    } else r.skip(tag & 7);
  }
  if (keys.has(key)) {
    let value: StoredValue = null;
    if (valueAt >= 0) {
      r.pos = valueAt;
      value = anyValue(r);
    }
    into[key] = value;
  }
  r.leave(outer);
}

/** Reads one KeyValue as `keyValue` does, keeping nothing (malformed input throws the same way). */
function checkKeyValue(r: ProtoReader): void {
  const outer = r.enter();
  while (r.more()) {
    const tag = r.tag();
    if (tag === T(1, LEN)) r.skip(LEN);
    else if (tag === T(2, LEN)) checkAnyValue(r);
    else r.skip(tag & 7);
  }
  r.leave(outer);
}

/**
 * Calls `read` at each `values` entry (field 1) of the embedded ArrayValue or KeyValueList at `r`'s
 * position; its other fields are skipped.
 */
function eachValue(r: ProtoReader, read: (m: ProtoReader) => void): void {
  const m = r.message();
  while (m.more()) {
    const t = m.tag();
    if (t === T(1, LEN)) read(m);
    else m.skip(t & 7);
  }
}

/** Reads one AnyValue as `anyValue` does, keeping nothing (no strings or objects made). */
function checkAnyValue(r: ProtoReader): void {
  const outer = r.enter();
  while (r.more()) {
    const tag = r.tag();
    switch (tag) {
      case T(2, VARINT): r.bool(); break;
      case T(3, VARINT): r.int64(); break;
      case T(4, F64): r.double(); break;
      case T(5, LEN): eachValue(r, checkAnyValue); break;
      case T(6, LEN): eachValue(r, checkKeyValue); break;
      // Strings and bytes (1, 7) and unknown fields.
      default: r.skip(tag & 7);
    }
  }
  r.leave(outer);
}

/** Reads one AnyValue (the embedded message at `r`'s position). */
function anyValue(r: ProtoReader): StoredValue {
  const outer = r.enter();
  let value: StoredValue = null;
  // A oneof: the last field present wins, as protobuf parsers do.
  while (r.more()) {
    const tag = r.tag();
    switch (tag) {
      case T(1, LEN): value = r.string(); break;
      case T(2, VARINT): value = r.bool(); break;
      case T(3, VARINT): value = storedInt(r.int64()); break;
      case T(4, F64): value = storedDouble(r.double()); break;
      case T(5, LEN): {
        const values: StoredValue[] = [];
        eachValue(r, (m) => values.push(anyValue(m)));
        value = values;
        break;
      }
      case T(6, LEN): {
        const kv: StoredAttributes = {};
        eachValue(r, (m) => keyValue(m, kv));
        value = { kv };
        break;
      }
      case T(7, LEN): {
        const [start, end] = r.range();
        value = { b: r.buf.toString('base64', start, end) };
        break;
      }
      default: r.skip(tag & 7);
    }
  }
  r.leave(outer);
  return value;
}
