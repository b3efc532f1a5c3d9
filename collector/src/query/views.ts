// Turning stored records into the shapes of wire/query-api.ts (SpanView, LogView, TraceSummary, TraceDetail).
import {
  type FailureReason,
  INFRA_EVENTS,
  type LogView,
  RESOURCE,
  type SpanKindName,
  type SpanView,
  type TraceDetail,
  type TraceSummary,
} from '@meshlet/wire';
import { analyseTrace } from '../analysis/analyse-trace.ts';
import { factsOf } from '../analysis/facts.ts';
import { plainAttributes, plainValue, type SpanRecord, stringAttr } from '../otlp/model.ts';
import type { StoredLog, TraceReader, TraceRow } from '../store/store.ts';

const KIND_NAMES: readonly SpanKindName[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_NAMES = ['unset', 'ok', 'error'] as const;

/** Runtime events shown around a trace: this long before its start and after its end. */
export const TRACE_EVENT_MARGIN_MS = 5_000;

export function kindName(kind: number): SpanKindName {
  return KIND_NAMES[kind] ?? 'internal';
}

export function traceSummary(t: TraceRow): TraceSummary {
  const summary: TraceSummary = {
    traceId: t.traceId,
    rootService: t.rootService,
    rootOperation: t.rootOperation,
    startMs: t.startMs,
    durationMs: t.durationMs,
    spanCount: t.spanCount,
    errorCount: t.errorCount,
    services: t.services,
    status: t.status,
    origins: t.origins.map((o) => ({ service: o.service, operation: o.operation, reason: o.reason as FailureReason, spanId: o.spanId })),
  };
  if (t.run !== undefined) summary.runId = t.run;
  return summary;
}

export function logView(l: StoredLog): LogView {
  const view: LogView = {
    timeUnixNano: (l.timeUnixNano !== 0n ? l.timeUnixNano : BigInt(l.timeMs) * 1_000_000n).toString(),
    timeMs: l.timeMs,
    severityText: l.severityText,
    severityNumber: l.severityNumber,
    body: typeof l.body === 'string' ? l.body : l.body === null ? '' : JSON.stringify(plainValue(l.body)),
    service: stringAttr(l.resource.attributes, RESOURCE.serviceName) ?? 'unknown_service',
    attributes: plainAttributes(l.attributes),
  };
  const pod = stringAttr(l.resource.attributes, RESOURCE.pod);
  if (pod !== undefined) view.pod = pod;
  if (l.traceId !== '') view.traceId = l.traceId;
  if (l.spanId !== '') view.spanId = l.spanId;
  if (l.event !== '') view.eventName = l.event;
  return view;
}

/** The full detail of a trace, or null when no span of it is stored. */
export function traceDetail(reader: TraceReader, traceId: string): TraceDetail | null {
  const spans = reader.traceSpans(traceId);
  if (spans.length === 0) return null;
  const facts = spans.map(factsOf);
  const a = analyseTrace(facts);
  const views = spans.map((s, i) => spanView(s, facts[i] as ReturnType<typeof factsOf>, a));
  const startMs = a.startMs;
  const endMs = startMs + a.durationMs;
  const logs = reader.logs({ traceId, fromMs: 0, toMs: Number.MAX_SAFE_INTEGER, limit: 1000, ascending: true }).map(logView);
  // Also the services the trace called or blamed without a span of theirs: a callee whose pod was down
  // (connect_refused, no_endpoints) left none, and its restart is what explains the failure.
  const services = new Set([...a.services, ...a.origins.map((o) => o.service), ...facts.flatMap((f) => (f.peerService === undefined ? [] : [f.peerService]))]);
  const pods = new Set(facts.map((f) => f.pod).filter((p) => p !== undefined));
  const events = reader
    .logs({
      fromMs: Math.floor(startMs - TRACE_EVENT_MARGIN_MS),
      toMs: Math.ceil(endMs + TRACE_EVENT_MARGIN_MS),
      eventsOnly: true,
      excludeEvents: [INFRA_EVENTS.status],
      limit: 500,
      ascending: true,
    })
    .filter((l) => {
      const pod = stringAttr(l.resource.attributes, RESOURCE.pod);
      return (pod !== undefined && pods.has(pod)) || services.has(stringAttr(l.resource.attributes, RESOURCE.serviceName) ?? '');
    })
    .map(logView);
  return {
    traceId,
    startMs,
    durationMs: a.durationMs,
    spans: views,
    logs,
    events,
    origins: a.origins.map((o) => o.spanId),
    propagation: a.propagation,
    criticalPath: a.criticalPath,
    dropsContext: a.dropsContext,
  };
}

function spanView(s: SpanRecord, f: ReturnType<typeof factsOf>, a: ReturnType<typeof analyseTrace>): SpanView {
  const status: SpanView['status'] = { code: STATUS_NAMES[s.statusCode] ?? 'unset' };
  if (s.statusMessage !== '') status.message = s.statusMessage;
  const view: SpanView = {
    spanId: s.spanId,
    parentSpanId: s.parentSpanId === '' ? null : s.parentSpanId,
    service: f.service,
    name: s.name,
    kind: kindName(s.kind),
    startTimeUnixNano: s.startTimeUnixNano.toString(),
    endTimeUnixNano: s.endTimeUnixNano.toString(),
    startOffsetMs: Number(s.startTimeUnixNano - a.startNs) / 1e6,
    durationMs: f.durationMs,
    status,
    attributes: plainAttributes(s.attributes),
    resource: plainAttributes(s.resource.attributes),
    events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano.toString(), attributes: plainAttributes(e.attributes) })),
    role: a.roles.get(s.spanId) ?? null,
  };
  if (f.pod !== undefined) view.pod = f.pod;
  if (f.version !== undefined) view.version = f.version;
  if (f.reason !== undefined) view.reason = f.reason;
  if (f.errorOrigin !== undefined) view.errorOrigin = f.errorOrigin;
  if (a.recovered.has(s.spanId)) view.recovered = true;
  return view;
}
