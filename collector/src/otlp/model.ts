// The collector's normalised form of OTLP spans and log records, shared by both decoders and the store.
//
// Attribute values keep their OTLP type exactly, in a compact JSON form (`StoredValue`), so what is stored
// can be given back field by field: a plain JSON string, boolean or safe integer stands for itself; every
// value JSON cannot say unambiguously is wrapped in a one-key object:
//   { i: "9007199254740993" }  int64 beyond 2^53        { d: 3 } / { d: "NaN" }  a double with no fraction
//   { b: "AAEC" }               bytes (base64)           { kv: { ... } }            a key-value list
// Arrays are JSON arrays; an AnyValue with no value set is `null`.
import type { AttributeValue } from '@meshlet/wire';

/** An OTLP AnyValue in the compact typed JSON form described above. */
export type StoredValue = string | boolean | number | null | StoredValue[] | { i: string } | { d: number | string } | { b: string } | { kv: StoredAttributes };

/** Attributes (OTLP `repeated KeyValue`) as a map; a repeated key keeps its last value. */
export type StoredAttributes = Record<string, StoredValue>;

export interface ResourceRecord {
  attributes: StoredAttributes;
  droppedAttributesCount: number;
  /** `schema_url` of the ResourceSpans / ResourceLogs. */
  schemaUrl: string;
}

export interface ScopeRecord {
  name: string;
  version: string;
  attributes: StoredAttributes;
  droppedAttributesCount: number;
  /** `schema_url` of the ScopeSpans / ScopeLogs. */
  schemaUrl: string;
}

export interface SpanEventRecord {
  timeUnixNano: bigint;
  name: string;
  attributes: StoredAttributes;
  droppedAttributesCount: number;
}

export interface SpanLinkRecord {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: StoredAttributes;
  droppedAttributesCount: number;
  flags: number;
}

/** OTLP `Span.SpanKind`. */
export const SPAN_KIND = Object.freeze({ unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 });
/** OTLP `Status.StatusCode`. */
export const STATUS_CODE = Object.freeze({ unset: 0, ok: 1, error: 2 });

/** One span, ids as lowercase hex; `parentSpanId` is `''` for a root. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: StoredAttributes;
  droppedAttributesCount: number;
  events: SpanEventRecord[];
  droppedEventsCount: number;
  links: SpanLinkRecord[];
  droppedLinksCount: number;
  statusCode: number;
  statusMessage: string;
  resource: ResourceRecord;
  scope: ScopeRecord;
}

/** When a span ended, for time ranges: its start when it claims to have ended before it began. */
export function spanEndNs(span: SpanRecord): bigint {
  return span.endTimeUnixNano >= span.startTimeUnixNano ? span.endTimeUnixNano : span.startTimeUnixNano;
}

/** One log record; ids are `''` when absent. */
export interface LogRecordData {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: StoredValue;
  attributes: StoredAttributes;
  droppedAttributesCount: number;
  flags: number;
  traceId: string;
  spanId: string;
  eventName: string;
  resource: ResourceRecord;
  scope: ScopeRecord;
}

/** What one export request decoded to, with the items rejected one by one (partial success). */
export interface DecodedBatch<T> {
  items: T[];
  rejected: number;
  /** Why items were rejected (first few reasons), for the partial-success message. */
  rejectMessages: string[];
  /**
   * Protobuf span requests: each kept item's `Span` message as received (a view into the request body,
   * aligned with `items`), which the store keeps as is.
   */
  encoded?: Uint8Array[];
}

/** A double in the stored form: a plain number only when JSON keeps it a double. */
export function storedDouble(value: number): StoredValue {
  if (Number.isFinite(value) && !Number.isInteger(value)) return value;
  if (Number.isFinite(value)) return { d: Object.is(value, -0) ? '-0' : value };
  return { d: String(value) };
}

/** An int64 (given as bigint or decimal text) in the stored form. */
export function storedInt(value: bigint | number | string): StoredValue {
  const n = Number(value);
  if (Number.isSafeInteger(n)) return n;
  return { i: BigInt(value).toString() };
}

/**
 * The stored value as the plain JSON value the query API shows (`AttributeValue`): an int64 beyond
 * 2^53 becomes its decimal text, bytes their base64, a key-value list an object.
 */
export function plainValue(value: StoredValue): AttributeValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plainValue);
  if ('i' in value) return value.i;
  if ('d' in value) return typeof value.d === 'number' ? value.d : value.d === '-0' ? -0 : Number(value.d);
  if ('b' in value) return value.b;
  return plainAttributes(value.kv);
}

/** Attributes as plain JSON values (see `plainValue`). */
export function plainAttributes(attrs: StoredAttributes): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const key of Object.keys(attrs)) out[key] = plainValue(attrs[key] as StoredValue);
  return out;
}

/** Reads a string attribute, or undefined when absent or not a string. */
export function stringAttr(attrs: StoredAttributes, key: string): string | undefined {
  const v = attrs[key];
  return typeof v === 'string' ? v : undefined;
}

/** Reads an integer attribute (int or numeric string), or undefined. */
export function numberAttr(attrs: StoredAttributes, key: string): number | undefined {
  const v = attrs[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    if ('i' in v) return Number(v.i);
    if ('d' in v) return Number(v.d);
  }
  return undefined;
}

/** Reads a boolean attribute (bool, or the strings "true"/"false"), or undefined. */
export function boolAttr(attrs: StoredAttributes, key: string): boolean | undefined {
  const v = attrs[key];
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}
