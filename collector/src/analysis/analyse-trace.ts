// The failure-origin and call-graph analysis of one trace.
//
// Failure origins: a failure travels up the span tree while the parent failed too. The origins of a failed
// trace are the failed spans reached from a failed root by following failing children until none is left:
//
//   gateway SERVER ✗  ─ propagated
//    └ CLIENT request ✗ ─ propagated          (request span: final outcome of its attempts)
//       ├ attempt 1 ✗ connect_refused          earlier attempt: retried, not an origin
//       └ attempt 2 ✗ ─ propagated
//          └ catalog SERVER ✗ app_error  ◄── origin, blamed on catalog
//
// Only the last attempt of a request carries the request's outcome; a failed attempt under a request that
// succeeded was retried and recovered (counted on its edge, never an origin). A failed span whose parent
// succeeded was handled there and does not reach the root either.
//
// Blame: an origin on a SERVER (or internal) span is its service's own failure. An origin on a CLIENT span
// with no failing server under it (connect_refused, no_endpoints, request_timeout, ...) is blamed on the
// callee — the server child's service, else `meshlet.peer.service` — except for reasons the caller causes
// (unknown_service, denied, rate_limited, header_overflow, bad_request).
import { type FailureOrigin, type FailureReason, REASON_HINTS } from '@meshlet/wire';
import { SPAN_KIND } from '../otlp/model.ts';
import type { SpanFacts } from './facts.ts';

/** Reasons that blame the caller rather than the callee. */
const CALLER_REASONS: ReadonlySet<FailureReason> = new Set(['unknown_service', 'denied', 'rate_limited', 'header_overflow', 'bad_request']);

export interface OriginInfo {
  spanId: string;
  /** The service blamed. */
  service: string;
  operation: string;
  reason: FailureReason;
  origin: FailureOrigin;
  message: string;
  timeMs: number;
  /** The root (entry) span this failure broke. */
  entryService: string;
  entryOperation: string;
  /** Services other than the blamed one that only passed the failure on. */
  propagatedBy: string[];
}

/** One request from a caller service to a callee service (a CLIENT request span and its attempts). */
export interface CallInfo {
  from: string;
  to: string;
  timeMs: number;
  durationMs: number;
  failed: boolean;
  /** Failure reasons of failed attempts (or of the request when it had no attempt spans). */
  reasons: FailureReason[];
  retries: number;
  recovered: boolean;
  version: string | undefined;
  /** The request failed and the failure started at the callee (an origin in its subtree blamed on the callee). */
  originAtCallee: boolean;
}

export interface TraceAnalysis {
  traceId: string;
  startNs: bigint;
  endNs: bigint;
  startMs: number;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  root: SpanFacts;
  status: 'ok' | 'error';
  services: string[];
  run: string | undefined;
  roles: Map<string, 'origin' | 'propagated'>;
  recovered: Set<string>;
  origins: OriginInfo[];
  /** Span ids of spans that propagated a failure (origin → root order per origin, deduplicated). */
  propagation: string[];
  criticalPath: string[];
  dropsContext: string[];
  calls: CallInfo[];
  /** Distinct (service, span name, kind) of the trace's spans. */
  operations: { service: string; name: string; kind: number }[];
  /** Distinct (service, version) of the trace's spans. */
  versions: { service: string; version: string }[];
}

/** Analyses the spans of one trace (any order; at least one span). */
export function analyseTrace(spans: SpanFacts[]): TraceAnalysis {
  if (spans.length === 0) throw new Error('analyseTrace needs at least one span');
  const byId = new Map<string, SpanFacts>();
  for (const s of spans) byId.set(s.spanId, s);
  const children = new Map<string, SpanFacts[]>();
  const roots: SpanFacts[] = [];
  for (const s of byId.values()) {
    if (s.parentSpanId === '' || !byId.has(s.parentSpanId)) roots.push(s);
    else {
      let list = children.get(s.parentSpanId);
      if (list === undefined) children.set(s.parentSpanId, (list = []));
      list.push(s);
    }
  }
  // Spans in a parent cycle (malformed input) are unreachable from any root: each becomes a root, and
  // is taken out of its parent's children, so every walk below terminates.
  const reachable = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const s = stack.pop() as SpanFacts;
    reachable.add(s.spanId);
    for (const c of children.get(s.spanId) ?? []) stack.push(c);
  }
  if (reachable.size < byId.size) {
    for (const s of byId.values()) {
      if (reachable.has(s.spanId)) continue;
      const siblings = children.get(s.parentSpanId);
      if (siblings !== undefined) children.set(s.parentSpanId, siblings.filter((c) => c !== s));
      roots.push(s);
    }
  }
  const byStart = (a: SpanFacts, b: SpanFacts): number => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);
  const kids = (s: SpanFacts): SpanFacts[] => children.get(s.spanId) ?? [];

  // The attempt that carries a request's outcome: the highest attempt number, the latest start on a tie.
  const lastAttempt = new Map<string, SpanFacts>();
  for (const [parentId, list] of children) {
    let last: SpanFacts | undefined;
    for (const c of list) if (c.attempt !== undefined && (last === undefined || (c.attempt) >= (last.attempt as number))) last = c;
    if (last !== undefined) lastAttempt.set(parentId, last);
  }
  const isEarlierAttempt = (s: SpanFacts): boolean => s.attempt !== undefined && lastAttempt.get(s.parentSpanId) !== s;
  const propagates = (child: SpanFacts, parent: SpanFacts): boolean => child.failed && parent.failed && !isEarlierAttempt(child);

  let startNs = spans[0]!.startNs;
  let endNs = spans[0]!.endNs;
  let errorCount = 0;
  const services = new Set<string>();
  const dropsContext = new Set<string>();
  let run: string | undefined;
  const operations = new Map<string, { service: string; name: string; kind: number }>();
  const versions = new Map<string, { service: string; version: string }>();
  for (const s of byId.values()) {
    const opKey = `${s.service}\t${s.name}\t${s.kind}`;
    if (!operations.has(opKey)) operations.set(opKey, { service: s.service, name: s.name, kind: s.kind });
    if (s.version !== undefined && !versions.has(`${s.service}\t${s.version}`)) versions.set(`${s.service}\t${s.version}`, { service: s.service, version: s.version });
    if (s.startNs < startNs) startNs = s.startNs;
    if (s.endNs > endNs) endNs = s.endNs;
    if (s.failed) errorCount++;
    services.add(s.service);
    if (s.dropsContext) dropsContext.add(s.service);
    run ??= s.run;
  }

  // Recovered: a failed attempt whose request succeeded.
  const recovered = new Set<string>();
  for (const s of byId.values()) {
    if (s.failed && s.attempt !== undefined) {
      const parent = byId.get(s.parentSpanId);
      if (parent !== undefined && !parent.failed) recovered.add(s.spanId);
    }
  }

  const roles = new Map<string, 'origin' | 'propagated'>();
  const origins: OriginInfo[] = [];
  const propagation: string[] = [];
  const originsBySpan = new Map<string, OriginInfo>();
  for (const root of roots) {
    if (!root.failed) continue;
    // Depth-first along failing children; `path` is the chain from the root to the current span.
    const walk = (s: SpanFacts, path: SpanFacts[]): void => {
      const failing = kids(s).filter((c) => propagates(c, s));
      if (failing.length === 0) {
        if (originsBySpan.has(s.spanId)) return;
        const info = blame(s, byId, kids, root, path);
        originsBySpan.set(s.spanId, info);
        origins.push(info);
        roles.set(s.spanId, 'origin');
        for (let i = path.length - 1; i >= 0; i--) {
          const p = path[i] as SpanFacts;
          if (roles.get(p.spanId) === undefined) {
            roles.set(p.spanId, 'propagated');
            propagation.push(p.spanId);
          }
        }
        return;
      }
      path.push(s);
      for (const c of failing) walk(c, path);
      path.pop();
    };
    walk(root, []);
  }

  const calls = callsOf(byId, kids, lastAttempt, originsBySpan);

  // Critical path: from the main root, always into the child that finished last.
  const root: SpanFacts = roots.find((r) => r.kind === SPAN_KIND.server) ?? roots[0] ?? (spans[0] as SpanFacts);
  const criticalPath: string[] = [];
  for (let s: SpanFacts | undefined = root; s !== undefined; ) {
    criticalPath.push(s.spanId);
    let next: SpanFacts | undefined;
    for (const c of kids(s)) if (next === undefined || c.endNs > next.endNs) next = c;
    s = next;
  }

  return {
    traceId: root.traceId,
    startNs,
    endNs,
    startMs: Number(startNs / 1000n) / 1000,
    durationMs: Number(endNs - startNs) / 1e6,
    spanCount: byId.size,
    errorCount,
    root,
    status: roots.some((r) => r.failed) ? 'error' : 'ok',
    services: [...services].sort(),
    run,
    roles,
    recovered,
    origins,
    propagation,
    criticalPath,
    dropsContext: [...dropsContext].sort(),
    calls,
    operations: [...operations.values()],
    versions: [...versions.values()],
  };
}

function serverChild(s: SpanFacts, kids: (s: SpanFacts) => SpanFacts[]): SpanFacts | undefined {
  return kids(s).find((c) => c.kind === SPAN_KIND.server);
}

function blame(s: SpanFacts, byId: Map<string, SpanFacts>, kids: (s: SpanFacts) => SpanFacts[], root: SpanFacts, path: SpanFacts[]): OriginInfo {
  const reason = s.reason ?? 'app_error';
  const callerMade = CALLER_REASONS.has(reason);
  let service = s.service;
  const parent = byId.get(s.parentSpanId);
  if (s.kind === SPAN_KIND.client) {
    if (!callerMade) service = serverChild(s, kids)?.service ?? s.peerService ?? (parent?.kind === SPAN_KIND.client ? parent.peerService : undefined) ?? s.service;
  } else if (s.kind === SPAN_KIND.server && callerMade && s.errorOrigin === 'proxy') {
    // e.g. the callee's inbound sidecar denied or rate-limited the caller: the caller is the one to look at.
    service = parent !== undefined && parent.service !== s.service ? parent.service : (s.peerService ?? s.service);
  }
  // An attempt is named after its request span (same operation, the attempt number aside).
  const operation = s.attempt !== undefined && parent !== undefined && parent.kind === SPAN_KIND.client ? parent.name : s.name;
  const propagatedBy = new Set<string>();
  for (const p of path) if (p.service !== service) propagatedBy.add(p.service);
  return {
    spanId: s.spanId,
    service,
    operation,
    reason,
    origin: s.errorOrigin ?? (reason === 'app_error' ? 'app' : 'proxy'),
    message: s.message !== '' ? s.message : s.httpStatus !== undefined ? `HTTP ${s.httpStatus}: ${REASON_HINTS[reason]}` : REASON_HINTS[reason],
    timeMs: s.startMs,
    entryService: root.service,
    entryOperation: root.name,
    propagatedBy: [...propagatedBy].sort(),
  };
}

function callsOf(
  byId: Map<string, SpanFacts>,
  kids: (s: SpanFacts) => SpanFacts[],
  lastAttempt: Map<string, SpanFacts>,
  originsBySpan: Map<string, OriginInfo>,
): CallInfo[] {
  const calls: CallInfo[] = [];
  for (const c of byId.values()) {
    if (c.kind !== SPAN_KIND.client || c.attempt !== undefined) continue;
    const attempts = kids(c).filter((k) => k.attempt !== undefined);
    const last = lastAttempt.get(c.spanId);
    let server: SpanFacts | undefined;
    if (attempts.length > 0) {
      server = (last !== undefined ? serverChild(last, kids) : undefined) ?? attempts.map((a) => serverChild(a, kids)).find((x) => x !== undefined);
    } else {
      server = serverChild(c, kids);
      if (server !== undefined && server.service === c.service) server = undefined;
    }
    const peer = c.peerService ?? attempts.find((a) => a.peerService !== undefined)?.peerService;
    const to = server?.service ?? peer;
    if (to === undefined) continue; // an outside call with no known peer: not an edge of the mesh
    const failedAttempts = attempts.filter((a) => a.failed);
    const reasons: FailureReason[] = attempts.length > 0 ? failedAttempts.map((a) => a.reason ?? 'app_error') : c.failed ? [c.reason ?? 'app_error'] : [];
    let originAtCallee = false;
    if (c.failed) {
      const stack = [c];
      while (stack.length > 0 && !originAtCallee) {
        const s = stack.pop() as SpanFacts;
        const o = originsBySpan.get(s.spanId);
        if (o !== undefined && o.service === to) originAtCallee = true;
        stack.push(...kids(s));
      }
    }
    calls.push({
      from: c.service,
      to,
      timeMs: c.startMs,
      durationMs: c.durationMs,
      failed: c.failed,
      reasons,
      retries: Math.max(0, attempts.length - 1),
      recovered: !c.failed && failedAttempts.length > 0,
      version: server?.version ?? last?.peerVersion ?? c.peerVersion,
      originAtCallee,
    });
  }
  return calls;
}
