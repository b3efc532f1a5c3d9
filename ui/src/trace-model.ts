// Turns a TraceDetail into waterfall rows: spans in tree order (children by start time) with their
// depth, and each log record attached to the span it names.
import { ATTR, type LogView, type SpanView, type TraceDetail } from '@meshlet/wire';

export interface WaterfallRow {
  span: SpanView;
  depth: number;
  /** The span's parent is not in the trace (a late or lost span): shown at the top level, flagged. */
  orphan: boolean;
  childCount: number;
  logs: LogView[];
}

export interface WaterfallModel {
  rows: WaterfallRow[];
  /** Logs of the trace that name no span of it. */
  looseLogs: LogView[];
  /** Trace start in ns since the epoch, to place logs. */
  startNano: bigint;
}

/** Offset of a log record from the trace start, in ms. */
export function offsetMs(timeUnixNano: string, startNano: bigint): number {
  try {
    return Number(BigInt(timeUnixNano) - startNano) / 1e6;
  } catch {
    return 0;
  }
}

export function buildWaterfall(trace: TraceDetail): WaterfallModel {
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  const children = new Map<string, SpanView[]>();
  const roots: SpanView[] = [];
  for (const span of trace.spans) {
    if (span.parentSpanId && byId.has(span.parentSpanId) && span.parentSpanId !== span.spanId) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a: SpanView, b: SpanView): number => a.startOffsetMs - b.startOffsetMs || a.spanId.localeCompare(b.spanId);
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);

  const logsBySpan = new Map<string, LogView[]>();
  const looseLogs: LogView[] = [];
  for (const log of [...trace.logs].sort((a, b) => compareNano(a.timeUnixNano, b.timeUnixNano))) {
    if (log.spanId && byId.has(log.spanId)) {
      const list = logsBySpan.get(log.spanId) ?? [];
      list.push(log);
      logsBySpan.set(log.spanId, list);
    } else {
      looseLogs.push(log);
    }
  }

  const rows: WaterfallRow[] = [];
  const seen = new Set<string>();
  // Iterative DFS: a deep or cyclic (corrupt) trace must not blow the stack or loop.
  const stack: { span: SpanView; depth: number; orphan: boolean }[] = roots
    .map((span) => ({ span, depth: 0, orphan: span.parentSpanId !== null && span.parentSpanId !== '' }))
    .reverse();
  while (stack.length > 0) {
    const { span, depth, orphan } = stack.pop()!;
    if (seen.has(span.spanId)) continue;
    seen.add(span.spanId);
    const kids = children.get(span.spanId) ?? [];
    rows.push({ span, depth, orphan, childCount: kids.length, logs: logsBySpan.get(span.spanId) ?? [] });
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i]!, depth: depth + 1, orphan: false });
  }
  // Spans caught in a parent cycle never reach a root; show them rather than lose them.
  for (const span of trace.spans) {
    if (!seen.has(span.spanId)) rows.push({ span, depth: 0, orphan: true, childCount: 0, logs: logsBySpan.get(span.spanId) ?? [] });
  }
  const first = trace.spans.reduce<string | undefined>(
    (min, s) => (min === undefined || compareNano(s.startTimeUnixNano, min) < 0 ? s.startTimeUnixNano : min),
    undefined,
  );
  return { rows, looseLogs, startNano: safeBigInt(first) ?? BigInt(Math.round(trace.startMs)) * 1_000_000n };
}

function safeBigInt(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  try {
    return BigInt(text);
  } catch {
    return undefined;
  }
}

/** Compares decimal nanosecond strings exactly. */
export function compareNano(a: string, b: string): number {
  const x = safeBigInt(a) ?? 0n;
  const y = safeBigInt(b) ?? 0n;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Ancestors of `spanId` up to the root, nearest first (to expand the path to a selected span). */
export function ancestors(trace: TraceDetail, spanId: string): string[] {
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  const out: string[] = [];
  let current = byId.get(spanId)?.parentSpanId ?? null;
  while (current && current !== spanId && byId.has(current) && !out.includes(current)) {
    out.push(current);
    current = byId.get(current)!.parentSpanId;
  }
  return out;
}

/**
 * The service a failure span is blamed on. A proxy-made failure on a CLIENT span (refused, timed out, no
 * endpoints) is the callee's (`meshlet.peer.service`), even though the caller's sidecar recorded it.
 */
export function blamedService(span: SpanView): string {
  const peer = span.attributes[ATTR.peerService];
  if (span.kind === 'client' && span.errorOrigin === 'proxy' && typeof peer === 'string' && peer !== '') return peer;
  return span.service;
}

/** `GET /prices` for a span named `GET attempt` whose route is /prices; else the span's own name. */
export function operationOf(span: SpanView): string {
  const method = span.attributes[ATTR.httpMethod];
  const route = span.attributes[ATTR.httpRoute] ?? span.attributes[ATTR.route];
  return typeof method === 'string' && typeof route === 'string' ? `${method} ${route}` : span.name;
}
