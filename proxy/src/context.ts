// Trace context in and out (W3C Trace Context level 1, B3 single and multi header). Accepts all three,
// emits W3C only. Invalid input is ignored as the W3C rules require: the hop then starts a new trace.
import type { HeaderMap } from './service.ts';

/** A parent span context taken from request headers. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
  /** Which header carried it. */
  format: 'w3c' | 'b3' | 'b3multi';
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
// version-traceid-parentid-flags; lower-case hex only (W3C §3.2: upper case MUST be rejected).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parses a `traceparent` value; null when invalid (the W3C rules: version ff, zero ids, case, length). */
export function parseTraceparent(value: string): TraceParent | null {
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return null;
  const version = m[1] as string;
  if (version === 'ff') return null;
  // Version 00 has exactly four fields; a later version may append fields after a dash (§3.2.4).
  if (version === '00' && m[5] !== undefined) return null;
  const traceId = m[2] as string;
  const spanId = m[3] as string;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const flags = parseInt(m[4] as string, 16);
  return { traceId, spanId, sampled: (flags & 1) === 1, format: 'w3c' };
}

const TRACESTATE_MAX_ENTRIES = 32;
const TRACESTATE_MAX_CHARS = 512;
const TRACESTATE_LONG_ENTRY = 128;
// key: simple-key or tenant@system (W3C §3.3.1.3.1); value: printable ASCII without ',' and '=', no trailing space.
const TS_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Validates `tracestate` header values (several headers are one list) and returns what to forward:
 * null when invalid or empty (more than 32 entries, a bad or duplicate key), else the entries,
 * truncated to 512 characters by dropping whole entries: those over 128 characters first, then from the end.
 */
export function parseTracestate(values: string | string[] | undefined): string | null {
  if (values === undefined) return null;
  const joined = Array.isArray(values) ? values.join(',') : values;
  const entries: string[] = [];
  const keys = new Set<string>();
  for (const raw of joined.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue; // empty list members are allowed and ignored (§3.3.1.1)
    const eq = entry.indexOf('=');
    if (eq <= 0) return null;
    const key = entry.slice(0, eq);
    const val = entry.slice(eq + 1);
    if (!TS_KEY.test(key) || !TS_VALUE.test(val) || keys.has(key)) return null;
    keys.add(key);
    entries.push(entry);
    if (entries.length > TRACESTATE_MAX_ENTRIES) return null;
  }
  if (entries.length === 0) return null;
  let kept = entries;
  if (length(kept) > TRACESTATE_MAX_CHARS) {
    kept = kept.filter((e) => e.length <= TRACESTATE_LONG_ENTRY);
    while (kept.length > 0 && length(kept) > TRACESTATE_MAX_CHARS) kept = kept.slice(0, -1);
  }
  return kept.length === 0 ? null : kept.join(',');
}

function length(entries: readonly string[]): number {
  let n = entries.length - 1;
  for (const e of entries) n += e.length;
  return n;
}

function b3TraceId(value: string): string | null {
  const id = value.length === 16 ? `0000000000000000${value}` : value;
  return HEX32.test(id) && id !== ZERO_TRACE ? id : null;
}

/** Parses a B3 single header (`{traceId}-{spanId}[-{sampled}[-{parentSpanId}]]`); `0` alone (deny) gives null. */
export function parseB3Single(value: string): TraceParent | null {
  const parts = value.trim().toLowerCase().split('-');
  if (parts.length < 2 || parts.length > 4) return null;
  const traceId = b3TraceId(parts[0] as string);
  const spanId = parts[1] as string;
  if (traceId === null || !HEX16.test(spanId) || spanId === ZERO_SPAN) return null;
  const flag = parts[2];
  if (flag !== undefined && flag !== '0' && flag !== '1' && flag !== 'd') return null;
  if (parts[3] !== undefined && !HEX16.test(parts[3])) return null;
  return { traceId, spanId, sampled: flag !== '0', format: 'b3' };
}

/** Parses B3 multi headers (X-B3-TraceId, X-B3-SpanId, X-B3-Sampled, X-B3-Flags). */
export function parseB3Multi(headers: HeaderMap): TraceParent | null {
  const rawTrace = first(headers['x-b3-traceid']);
  const rawSpan = first(headers['x-b3-spanid']);
  if (rawTrace === undefined || rawSpan === undefined) return null;
  const traceId = b3TraceId(rawTrace.trim().toLowerCase());
  const spanId = rawSpan.trim().toLowerCase();
  if (traceId === null || !HEX16.test(spanId) || spanId === ZERO_SPAN) return null;
  const flags = first(headers['x-b3-flags'])?.trim();
  const sampledHeader = first(headers['x-b3-sampled'])?.trim().toLowerCase();
  const sampled = flags === '1' || sampledHeader === undefined || sampledHeader === '1' || sampledHeader === 'true';
  return { traceId, spanId, sampled, format: 'b3multi' };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The parent context of an incoming request. Precedence: a valid W3C `traceparent`, then B3 single
 * (`b3`, which B3 says wins over the multi headers), then B3 multi. A `b3: 0` (do not sample) with
 * no other context still yields null.
 */
export function extractParent(headers: HeaderMap): TraceParent | null {
  const tp = headers.traceparent;
  if (tp !== undefined) {
    // Several traceparent headers are invalid (§3.2): there must be exactly one.
    if (typeof tp === 'string') {
      const parsed = parseTraceparent(tp);
      if (parsed !== null) return parsed;
    }
  }
  const b3 = first(headers.b3);
  if (b3 !== undefined) {
    const parsed = parseB3Single(b3);
    if (parsed !== null) return parsed;
  }
  return parseB3Multi(headers);
}

/** Names of the B3 headers, removed when forwarding (the proxy emits W3C only). */
export const B3_HEADERS = ['b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

/** The W3C traceparent for a span. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

const RUN_KEY = 'meshlet.run';

/** The `meshlet.run` entry of W3C baggage headers, or null. */
export function baggageRun(values: string | string[] | undefined): string | null {
  if (values === undefined) return null;
  const joined = Array.isArray(values) ? values.join(',') : values;
  const at = joined.indexOf(RUN_KEY);
  if (at === -1) return null;
  for (const member of joined.split(',')) {
    const eq = member.indexOf('=');
    if (eq === -1 || member.slice(0, eq).trim() !== RUN_KEY) continue;
    // Properties follow a ';' (W3C Baggage §3.3); the value is percent-encoded.
    const raw = member.slice(eq + 1).split(';')[0]?.trim() ?? '';
    if (raw === '') return null;
    try {
      return decodeURIComponent(raw).slice(0, 128);
    } catch {
      return null;
    }
  }
  return null;
}
