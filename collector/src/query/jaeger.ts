// The Jaeger query HTTP API (the one Jaeger UI and Grafana's Jaeger data source read):
//   GET /api/services                    → { data: [service] }
//   GET /api/services/{s}/operations     → { data: [operation] }
//   GET /api/operations?service&spanKind → { data: [{ name, spanKind }] }
//   GET /api/traces?service&operation&tags(JSON)&start&end(µs)&lookback&minDuration&maxDuration&limit
//   GET /api/traces/{id}                 → { data: [trace] } (404 when unknown)
//   GET /api/dependencies?endTs&lookback (ms) → { data: [{ parent, child, callCount }] }
// Envelope: { data, total, limit, offset, errors }. Times in spans are integer microseconds (Grafana's
// backend decodes them into int64), tags are { key, type, value } with Jaeger's type names.
import { RESOURCE } from '@meshlet/wire';
import { CollectorError } from '../errors.ts';
import { plainValue, type SpanRecord, type StoredAttributes, type StoredValue, stringAttr } from '../otlp/model.ts';
import type { TraceReader } from '../store/store.ts';
import { sumByKey } from './graph.ts';
import { label, n } from '../analysis/merge.ts';
import { Params } from './params.ts';
import { kindName } from './views.ts';

export interface JaegerKeyValue {
  key: string;
  type: 'string' | 'bool' | 'int64' | 'float64' | 'binary';
  value: string | number | boolean;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: JaegerKeyValue[];
  logs: { timestamp: number; fields: JaegerKeyValue[] }[];
  processID: string;
  warnings: string[] | null;
  flags: number;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerKeyValue[] }>;
  warnings: string[] | null;
}

export interface JaegerEnvelope<T> {
  data: T;
  total: number;
  limit: number;
  offset: number;
  errors: { code: number; msg: string }[] | null;
}

export function envelope<T>(data: T, total = Array.isArray(data) ? data.length : 0): JaegerEnvelope<T> {
  return { data, total, limit: 0, offset: 0, errors: null };
}

export function jaegerError(code: number, msg: string): JaegerEnvelope<null> {
  return { data: null, total: 0, limit: 0, offset: 0, errors: [{ code, msg }] };
}

function tag(key: string, value: StoredValue): JaegerKeyValue {
  if (typeof value === 'string') return { key, type: 'string', value };
  if (typeof value === 'boolean') return { key, type: 'bool', value };
  if (typeof value === 'number') return Number.isInteger(value) ? { key, type: 'int64', value } : { key, type: 'float64', value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if ('i' in value) return { key, type: 'int64', value: value.i };
    if ('d' in value) return { key, type: 'float64', value: typeof value.d === 'number' ? value.d : value.d };
    if ('b' in value) return { key, type: 'binary', value: value.b };
  }
  // Arrays, key-value lists and empty values: JSON text, as the OpenTelemetry→Jaeger translation does.
  return { key, type: 'string', value: JSON.stringify(plainValue(value)) };
}

function tags(attrs: StoredAttributes, skip?: string): JaegerKeyValue[] {
  const out: JaegerKeyValue[] = [];
  for (const key of Object.keys(attrs)) if (key !== skip) out.push(tag(key, attrs[key] as StoredValue));
  return out;
}

const micros = (ns: bigint): number => Number(ns / 1000n);

/** One trace in Jaeger's JSON model; processes are one per distinct resource. */
export function toJaegerTrace(spans: SpanRecord[]): JaegerTrace {
  const processes: JaegerTrace['processes'] = {};
  const processIds = new Map<object, string>();
  const byJson = new Map<string, string>();
  const out: JaegerSpan[] = [];
  for (const s of spans) {
    let pid = processIds.get(s.resource);
    if (pid === undefined) {
      const json = JSON.stringify(s.resource.attributes);
      pid = byJson.get(json);
      if (pid === undefined) {
        pid = `p${byJson.size + 1}`;
        byJson.set(json, pid);
        processes[pid] = {
          serviceName: stringAttr(s.resource.attributes, RESOURCE.serviceName) ?? 'unknown_service',
          tags: tags(s.resource.attributes, RESOURCE.serviceName),
        };
      }
      processIds.set(s.resource, pid);
    }
    const spanTags = tags(s.attributes);
    if (s.scope.name !== '') spanTags.push({ key: 'otel.scope.name', type: 'string', value: s.scope.name });
    if (s.scope.version !== '') spanTags.push({ key: 'otel.scope.version', type: 'string', value: s.scope.version });
    if (s.kind !== 0) spanTags.push({ key: 'span.kind', type: 'string', value: kindName(s.kind) });
    if (s.statusCode === 2) {
      spanTags.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' });
      spanTags.push({ key: 'error', type: 'bool', value: true });
    } else if (s.statusCode === 1) spanTags.push({ key: 'otel.status_code', type: 'string', value: 'OK' });
    if (s.statusMessage !== '') spanTags.push({ key: 'otel.status_description', type: 'string', value: s.statusMessage });
    const references: JaegerSpan['references'] = [];
    if (s.parentSpanId !== '') references.push({ refType: 'CHILD_OF', traceID: s.traceId, spanID: s.parentSpanId });
    for (const l of s.links) references.push({ refType: 'FOLLOWS_FROM', traceID: l.traceId, spanID: l.spanId });
    out.push({
      traceID: s.traceId,
      spanID: s.spanId,
      operationName: s.name,
      references,
      startTime: micros(s.startTimeUnixNano),
      duration: Math.max(0, micros(s.endTimeUnixNano) - micros(s.startTimeUnixNano)),
      tags: spanTags,
      logs: s.events.map((e) => ({ timestamp: micros(e.timeUnixNano), fields: [{ key: 'event', type: 'string', value: e.name }, ...tags(e.attributes)] })),
      processID: pid,
      warnings: null,
      flags: s.flags & 0xff,
    });
  }
  return { traceID: spans[0]?.traceId ?? '', spans: out, processes, warnings: null };
}

const GO_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`1.5s`, `100ms`, `1h2m`, `250us`) into ms; a bare number is µs, as Jaeger reads it. */
export function parseGoDurationMs(text: string, param: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) / 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < t.length) {
    re.lastIndex = i;
    const m = re.exec(t);
    if (m === null) throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `${param}: expected a duration such as 100ms or 1.5s, got "${text}"`, param);
    total += Number(m[1]) * (GO_UNITS_MS[m[2] as string] as number);
    i = re.lastIndex;
  }
  if (t === '') throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `${param}: empty duration`, param);
  return total;
}

/** `tags` is a JSON object of strings; `tag=key:value` may repeat (Jaeger UI's form). */
function searchTags(p: Params): [string, string][] {
  const out: [string, string][] = [];
  const json = p.string('tags');
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `tags: expected a JSON object such as {"http.status_code":"500"}, got ${json}`, 'tags');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', 'tags: expected a JSON object of key/value strings', 'tags');
    }
    for (const [k, v] of Object.entries(parsed)) out.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  for (const t of p.all('tag')) {
    const colon = t.indexOf(':');
    if (colon <= 0) throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `tag: expected key:value, got "${t}"`, 'tag');
    out.push([t.slice(0, colon), t.slice(colon + 1)]);
  }
  return out;
}

/** The default lookback of a search without `start`: Jaeger UI's "last hour". */
const DEFAULT_SEARCH_LOOKBACK_MS = 3_600_000;
const DEFAULT_SEARCH_LIMIT = 20;

/** Handles one Jaeger API path; returns [status, body] or null when the path is not Jaeger's. */
export function handleJaeger(reader: TraceReader, path: string, search: URLSearchParams, nowMs: number): [number, unknown] | null {
  const p = new Params(search);
  if (path === '/api/services') {
    return [200, envelope(reader.services().map((s) => s.name).sort())];
  }
  const ops = /^\/api\/services\/([^/]+)\/operations$/.exec(path);
  if (ops !== null) {
    const service = decodeURIComponent(ops[1] as string);
    const s = reader.services().find((x) => x.name === service);
    const names = [...new Set((s?.operations ?? []).map((o) => o.name))].sort();
    return [200, envelope(names)];
  }
  if (path === '/api/operations') {
    const service = p.string('service');
    if (service === undefined) return [400, jaegerError(400, 'parameter service is required')];
    const kind = p.string('spanKind');
    const s = reader.services().find((x) => x.name === service);
    const list = (s?.operations ?? [])
      .map((o) => ({ name: o.name, spanKind: kindName(o.kind) }))
      .filter((o) => kind === undefined || kind === '' || o.spanKind === kind);
    return [200, envelope(list)];
  }
  const one = /^\/api\/traces\/([^/]+)$/.exec(path);
  if (one !== null) {
    const id = decodeURIComponent(one[1] as string).toLowerCase().padStart(32, '0');
    const spans = reader.traceSpans(id);
    if (spans.length === 0) return [404, jaegerError(404, 'trace not found')];
    return [200, envelope([toJaegerTrace(spans)])];
  }
  if (path === '/api/traces') {
    const ids = p.all('traceID');
    if (ids.length > 0) {
      const traces = ids.map((id) => reader.traceSpans(id.toLowerCase().padStart(32, '0'))).filter((s) => s.length > 0).map(toJaegerTrace);
      return [200, envelope(traces)];
    }
    const service = p.string('service');
    if (service === undefined) return [400, jaegerError(400, 'parameter service is required')];
    const endUs = p.number('end', { min: 0 });
    const startUs = p.number('start', { min: 0 });
    const toMs = endUs !== undefined ? endUs / 1000 : nowMs;
    const lookback = p.string('lookback');
    const lookbackMs = lookback !== undefined && lookback !== 'custom' ? parseGoDurationMs(lookback, 'lookback') : DEFAULT_SEARCH_LOOKBACK_MS;
    const fromMs = startUs !== undefined ? startUs / 1000 : toMs - lookbackMs;
    const operation = p.string('operation');
    const minDuration = p.string('minDuration');
    const maxDuration = p.string('maxDuration');
    const limit = p.number('limit', { min: 0, integer: true }) || DEFAULT_SEARCH_LIMIT;
    const q: Parameters<TraceReader['searchTraces']>[0] = {
      fromMs,
      toMs: toMs + 0.001,
      service,
      attributes: searchTags(p),
      attributesOnService: true,
      limit: Math.min(limit, 1500),
    };
    if (operation !== undefined) q.operation = operation;
    if (minDuration !== undefined) q.minDurationMs = parseGoDurationMs(minDuration, 'minDuration');
    if (maxDuration !== undefined) q.maxDurationMs = parseGoDurationMs(maxDuration, 'maxDuration');
    const found = reader.searchTraces(q).traces;
    const traces = found.map((t) => toJaegerTrace(reader.traceSpans(t.traceId))).filter((t) => t.spans.length > 0);
    return [200, envelope(traces)];
  }
  if (path === '/api/dependencies') {
    const endTs = p.number('endTs', { min: 0 }) ?? nowMs;
    const lookback = p.number('lookback', { min: 0 }) ?? 24 * 3_600_000;
    const edges = sumByKey(reader, 'edge', { from: endTs - lookback, to: endTs + 1 });
    const data = [...edges.values()]
      .map((e) => ({ parent: label(e, 'from'), child: label(e, 'to'), callCount: n(e, 'requests') }))
      .filter((d) => d.callCount > 0)
      .sort((a, b) => a.parent.localeCompare(b.parent) || a.child.localeCompare(b.child));
    return [200, envelope(data)];
  }
  return null;
}
