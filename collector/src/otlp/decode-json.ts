// Decodes OTLP/HTTP JSON export requests (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// lowerCamelCase keys (the proto names are accepted too), trace and span ids as hex, enums as integers
// (their names are accepted too), int64/fixed64 as a JSON number or a decimal string, unknown fields ignored.
// Numbers are read from their source text, so a nanosecond timestamp such as 1544712660000000123 — which a
// double cannot hold — is kept exact.
import { OtlpDecodeError, rethrowWithin } from '../errors.ts';
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
import { checkLogIds, checkSpanIds, recordItem } from './validate.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Integer literals beyond 2^53 keep their digits: the reviver returns the source text instead of the rounded double. */
function exactReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
    return context.source;
  }
  return value;
}

/** Parses JSON text keeping big integers exact (as decimal strings). Throws `OtlpDecodeError` on bad JSON. */
export function parseExactJson(text: string): Json {
  try {
    return JSON.parse(text, exactReviver) as Json;
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${(err as Error).message}`);
  }
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const SEVERITIES: Record<string, number> = Object.fromEntries(
  ['UNSPECIFIED', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4',
    'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4']
    .map((name, i) => [`SEVERITY_NUMBER_${name}`, i]),
);

/** Decodes an ExportTraceServiceRequest in JSON. */
export function decodeTraceJson(text: string): DecodedBatch<SpanRecord> {
  const root = asObject(parseExactJson(text), 'request');
  const out: DecodedBatch<SpanRecord> = { items: [], rejected: 0, rejectMessages: [] };
  eachObject(root, 'resourceSpans', 'resource_spans', (rs) => {
    const resource = resourceOf(rs);
    eachObject(rs, 'scopeSpans', 'scope_spans', (ss) => {
      const scope = scopeOf(ss);
      eachObject(ss, 'spans', 'spans', (obj, index) => {
        const s = spanOf(obj, resource, scope);
        recordItem(out, s, checkSpanIds(s), `spans[${index}]`);
      });
    });
  });
  return out;
}

/** Decodes an ExportLogsServiceRequest in JSON. */
export function decodeLogsJson(text: string): DecodedBatch<LogRecordData> {
  const root = asObject(parseExactJson(text), 'request');
  const out: DecodedBatch<LogRecordData> = { items: [], rejected: 0, rejectMessages: [] };
  eachObject(root, 'resourceLogs', 'resource_logs', (rl) => {
    const resource = resourceOf(rl);
    eachObject(rl, 'scopeLogs', 'scope_logs', (sl) => {
      const scope = scopeOf(sl);
      eachObject(sl, 'logRecords', 'log_records', (obj, index) => {
        const l = logOf(obj, resource, scope);
        recordItem(out, l, checkLogIds(l), `logRecords[${index}]`);
      });
    });
  });
  return out;
}

function get(obj: JsonObject, camel: string, snake: string): Json | undefined {
  const v = obj[camel];
  return v === undefined ? obj[snake] : v;
}

function asObject(value: Json | undefined, what: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OtlpDecodeError(`${what} must be an object`);
  return value;
}

/** Calls `fn` for each object of the array field, adding `field[i]` to the path of any decode error. */
function eachObject(obj: JsonObject, camel: string, snake: string, fn: (item: JsonObject, index: number) => void): void {
  const list = get(obj, camel, snake);
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new OtlpDecodeError(`${camel} must be an array`);
  for (let i = 0; i < list.length; i++) {
    try {
      fn(asObject(list[i], 'element'), i);
    } catch (err) {
      rethrowWithin(err, `${camel}[${i}]`);
    }
  }
}

function str(obj: JsonObject, camel: string, snake = camel): string {
  const v = get(obj, camel, snake);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new OtlpDecodeError(`${camel} must be a string`);
  return v;
}

/** A uint32/int32 field: a JSON number or a decimal string. */
function int(obj: JsonObject, camel: string, snake = camel): number {
  const v = get(obj, camel, snake);
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new OtlpDecodeError(`${camel} must be an integer`);
  return n;
}

/** An enum: its integer value, or (leniently) its name. */
function enumField(obj: JsonObject, camel: string, snake: string, names: Record<string, number>): number {
  const v = get(obj, camel, snake);
  if (typeof v === 'string' && Object.hasOwn(names, v)) return names[v] as number;
  return int(obj, camel, snake);
}

/** A fixed64 nanosecond time: JSON number or decimal string, kept exact as a bigint. */
function nanos(obj: JsonObject, camel: string, snake: string): bigint {
  const v = get(obj, camel, snake);
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    const n = BigInt(v);
    if (n < 2n ** 64n) return n;
  }
  throw new OtlpDecodeError(`${camel} must be an unsigned 64-bit integer (number or decimal string), got ${JSON.stringify(v)}`);
}

/** Trace/span ids are hex in OTLP/JSON (not base64); kept lowercase. Invalid ones are judged by the id checks. */
function hexId(obj: JsonObject, camel: string, snake: string): string {
  return str(obj, camel, snake).toLowerCase();
}

function attributesOf(obj: JsonObject, camel = 'attributes', snake = camel): StoredAttributes {
  const out: StoredAttributes = {};
  const list = get(obj, camel, snake);
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw new OtlpDecodeError(`${camel} must be an array of key-value pairs`);
  for (let i = 0; i < list.length; i++) {
    try {
      const kv = asObject(list[i], 'key-value pair');
      const value = kv.value;
      out[str(kv, 'key')] = value === undefined || value === null ? null : anyValueOf(asObject(value, 'value'));
    } catch (err) {
      rethrowWithin(err, `${camel}[${i}]`);
    }
  }
  return out;
}

function anyValueOf(v: JsonObject): StoredValue {
  let value: StoredValue = null;
  for (const key of Object.keys(v)) {
    const x = v[key];
    switch (key) {
      case 'stringValue':
      case 'string_value':
        if (typeof x !== 'string') throw new OtlpDecodeError('stringValue must be a string');
        value = x;
        break;
      case 'boolValue':
      case 'bool_value':
        if (typeof x !== 'boolean') throw new OtlpDecodeError('boolValue must be a boolean');
        value = x;
        break;
      case 'intValue':
      case 'int_value':
        if (typeof x === 'number' && Number.isInteger(x)) value = x;
        else if (typeof x === 'string' && /^-?\d+$/.test(x) && BigInt.asIntN(64, BigInt(x)) === BigInt(x)) value = storedInt(x);
        else throw new OtlpDecodeError(`intValue must be a 64-bit integer, got ${JSON.stringify(x)}`);
        break;
      case 'doubleValue':
      case 'double_value':
        if (typeof x === 'number') value = storedDouble(x);
        else if (typeof x === 'string' && (x === 'NaN' || x === 'Infinity' || x === '-Infinity' || Number.isFinite(Number(x)))) value = storedDouble(Number(x));
        else throw new OtlpDecodeError('doubleValue must be a number');
        break;
      case 'bytesValue':
      case 'bytes_value':
        if (typeof x !== 'string') throw new OtlpDecodeError('bytesValue must be a base64 string');
        value = { b: Buffer.from(x, 'base64').toString('base64') };
        break;
      case 'arrayValue':
      case 'array_value': {
        const values = get(asObject(x, 'arrayValue'), 'values', 'values') ?? [];
        if (!Array.isArray(values)) throw new OtlpDecodeError('arrayValue.values must be an array');
        value = values.map((item, i) => {
          try {
            return anyValueOf(asObject(item, 'value'));
          } catch (err) {
            rethrowWithin(err, `arrayValue.values[${i}]`);
          }
        });
        break;
      }
      case 'kvlistValue':
      case 'kvlist_value':
        value = { kv: attributesOf(asObject(x, 'kvlistValue'), 'values') };
        break;
      default:
        // Unknown fields are ignored (OTLP/JSON receivers MUST ignore them).
    }
  }
  return value;
}

function resourceOf(obj: JsonObject): ResourceRecord {
  const r = get(obj, 'resource', 'resource');
  const schemaUrl = str(obj, 'schemaUrl', 'schema_url');
  if (r === undefined || r === null) return { attributes: {}, droppedAttributesCount: 0, schemaUrl };
  try {
    const res = asObject(r, 'resource');
    return { attributes: attributesOf(res), droppedAttributesCount: int(res, 'droppedAttributesCount', 'dropped_attributes_count'), schemaUrl };
  } catch (err) {
    rethrowWithin(err, 'resource');
  }
}

function scopeOf(obj: JsonObject): ScopeRecord {
  const s = get(obj, 'scope', 'scope');
  const schemaUrl = str(obj, 'schemaUrl', 'schema_url');
  if (s === undefined || s === null) return { name: '', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl };
  try {
    const sc = asObject(s, 'scope');
    return {
      name: str(sc, 'name'),
      version: str(sc, 'version'),
      attributes: attributesOf(sc),
      droppedAttributesCount: int(sc, 'droppedAttributesCount', 'dropped_attributes_count'),
      schemaUrl,
    };
  } catch (err) {
    rethrowWithin(err, 'scope');
  }
}

function spanOf(obj: JsonObject, resource: ResourceRecord, scope: ScopeRecord): SpanRecord {
  const status = get(obj, 'status', 'status');
  const st = status === undefined || status === null ? {} : asObject(status, 'status');
  const events: SpanEventRecord[] = [];
  eachObject(obj, 'events', 'events', (e) => {
    events.push({
      timeUnixNano: nanos(e, 'timeUnixNano', 'time_unix_nano'),
      name: str(e, 'name'),
      attributes: attributesOf(e),
      droppedAttributesCount: int(e, 'droppedAttributesCount', 'dropped_attributes_count'),
    });
  });
  const links: SpanLinkRecord[] = [];
  eachObject(obj, 'links', 'links', (l) => {
    links.push({
      traceId: hexId(l, 'traceId', 'trace_id'),
      spanId: hexId(l, 'spanId', 'span_id'),
      traceState: str(l, 'traceState', 'trace_state'),
      attributes: attributesOf(l),
      droppedAttributesCount: int(l, 'droppedAttributesCount', 'dropped_attributes_count'),
      flags: int(l, 'flags'),
    });
  });
  return {
    traceId: hexId(obj, 'traceId', 'trace_id'),
    spanId: hexId(obj, 'spanId', 'span_id'),
    parentSpanId: hexId(obj, 'parentSpanId', 'parent_span_id'),
    traceState: str(obj, 'traceState', 'trace_state'),
    flags: int(obj, 'flags'),
    name: str(obj, 'name'),
    kind: enumField(obj, 'kind', 'kind', SPAN_KINDS),
    startTimeUnixNano: nanos(obj, 'startTimeUnixNano', 'start_time_unix_nano'),
    endTimeUnixNano: nanos(obj, 'endTimeUnixNano', 'end_time_unix_nano'),
    attributes: attributesOf(obj),
    droppedAttributesCount: int(obj, 'droppedAttributesCount', 'dropped_attributes_count'),
    events,
    droppedEventsCount: int(obj, 'droppedEventsCount', 'dropped_events_count'),
    links,
    droppedLinksCount: int(obj, 'droppedLinksCount', 'dropped_links_count'),
    statusCode: enumField(st, 'code', 'code', STATUS_CODES),
    statusMessage: str(st, 'message'),
    resource,
    scope,
  };
}

function logOf(obj: JsonObject, resource: ResourceRecord, scope: ScopeRecord): LogRecordData {
  const body = get(obj, 'body', 'body');
  return {
    timeUnixNano: nanos(obj, 'timeUnixNano', 'time_unix_nano'),
    observedTimeUnixNano: nanos(obj, 'observedTimeUnixNano', 'observed_time_unix_nano'),
    severityNumber: enumField(obj, 'severityNumber', 'severity_number', SEVERITIES),
    severityText: str(obj, 'severityText', 'severity_text'),
    body: body === undefined || body === null ? null : anyValueOf(asObject(body, 'body')),
    attributes: attributesOf(obj),
    droppedAttributesCount: int(obj, 'droppedAttributesCount', 'dropped_attributes_count'),
    flags: int(obj, 'flags'),
    traceId: hexId(obj, 'traceId', 'trace_id'),
    spanId: hexId(obj, 'spanId', 'span_id'),
    eventName: str(obj, 'eventName', 'event_name'),
    resource,
    scope,
  };
}
