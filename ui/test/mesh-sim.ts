// Simulates requests through a mesh of sidecars and emits the spans they would record (wire/attributes.ts):
//
//  caller pod                                   callee pod
//  SERVER "GET /x" (inbound)                    SERVER "GET /y" (inbound) ◄─ parent = attempt span
//   └ CLIENT "GET /y" (outbound request)            ▲
//      └ CLIENT "GET attempt" n=1..N ─ traceparent ─┘
//
// A plan says what each service does (its own time, the calls it makes, whether its app fails); the
// simulator works out times, statuses, reasons and propagation the way the sidecars report them.
import type { Attributes, Span, SpanContext } from '@opentelemetry/api';
import { ATTR, REASON_STATUS, type ProxyReason } from '@meshlet/wire';
import { ERROR, INFO, WARN, type OtelSender, type PodIdentity } from './otel-sender.ts';

/** What one service does with a request. */
export interface ServePlan {
  pod: PodIdentity;
  method: string;
  route: string;
  path?: string;
  /** Time the app spends itself, in ms. */
  selfMs: number;
  calls?: CallPlan[];
  /** The app answers this 5xx on its own (an origin), with this log line. */
  appFailure?: { status: number; log: string };
  /** The app answers this status when a call it made failed (default 500/502: it propagates). */
  onCallFailure?: number;
  /** App log lines (info) written while serving. */
  logs?: string[];
}

/** One outbound call, possibly retried. */
export interface CallPlan {
  service: string;
  method: string;
  route: string;
  path?: string;
  /** Delay before the call, after the previous one ended (ms). */
  afterMs?: number;
  /** Attempts the outbound sidecar makes; the last one decides the outcome. */
  attempts: AttemptPlan[];
  /** Version chosen by a traffic split. */
  version?: string;
  /** The route timeout: the request fails with `request_timeout` when the callee takes longer. */
  timeoutMs?: number;
  /** An abort fault injected by the caller's sidecar. */
  faultAbort?: boolean;
  /** The app did not forward the trace context: the call starts a new trace. */
  dropsContext?: boolean;
}

export type AttemptPlan =
  | { kind: 'serve'; plan: ServePlan }
  /** Fails in the proxy without reaching an app (refused, no endpoints…). */
  | { kind: 'fail'; reason: ProxyReason; endpoint?: string; latencyMs: number };

export interface Outcome {
  endMs: number;
  status: number;
  span: SpanContext;
}

/** Everything the simulator produced for one request, for tests to assert against. */
export interface TraceRecord {
  traceId: string;
  entry: string;
  startMs: number;
  endMs: number;
  status: number;
  /** Spans where a failure started (by the sidecar's account), with service and reason. */
  origins: { spanId: string; service: string; reason: string; operation: string }[];
  runId?: string;
}

export class MeshSim {
  private readonly sender: OtelSender;
  private readonly random: () => number;
  private origins: TraceRecord['origins'] = [];
  private runId: string | undefined;

  constructor(sender: OtelSender, random: () => number) {
    this.sender = sender;
    this.random = random;
  }

  /** A request from outside the mesh to the entry service `plan.pod`. */
  request(plan: ServePlan, startMs: number, runId?: string): TraceRecord {
    this.origins = [];
    this.runId = runId;
    const out = this.serve(plan, startMs, null, null);
    return {
      traceId: out.span.traceId,
      entry: plan.pod.service,
      startMs,
      endMs: out.endMs,
      status: out.status,
      origins: this.origins,
      ...(runId ? { runId } : {}),
    };
  }

  private common(): Attributes {
    return this.runId ? { [ATTR.run]: this.runId } : {};
  }

  private requestId(): string {
    return Array.from({ length: 4 }, () => Math.floor(this.random() * 0x10000).toString(16).padStart(4, '0')).join('-');
  }

  private serve(plan: ServePlan, startMs: number, parent: SpanContext | null, caller: PodIdentity | null): Outcome {
    const path = plan.path ?? plan.route;
    const span = this.sender.start(plan.pod, `${plan.method} ${plan.route}`, 'server', startMs, parent, {
      ...this.common(),
      [ATTR.direction]: 'inbound',
      [ATTR.httpMethod]: plan.method,
      [ATTR.urlPath]: path,
      [ATTR.serverAddress]: `${plan.pod.service}:8080`,
      [ATTR.requestId]: this.requestId(),
      ...(caller ? { [ATTR.peerService]: caller.service, [ATTR.clientAddress]: caller.ip } : { [ATTR.clientAddress]: '127.0.0.1' }),
    });
    const ctx = span.spanContext();
    let t = startMs + 0.2 + this.random() * 0.3;
    let failedCall: Outcome | undefined;
    for (const call of plan.calls ?? []) {
      t += call.afterMs ?? 0.3 + this.random();
      const out = this.call(plan.pod, call, t, ctx);
      t = out.endMs;
      if (out.status >= 500 && !failedCall) failedCall = out;
    }
    t += plan.selfMs;
    (plan.logs ?? []).forEach((line, i) => this.sender.log(plan.pod, 'app', startMs + ((t - startMs) * (i + 1)) / ((plan.logs?.length ?? 0) + 1), INFO, line, {}, ctx));
    let status = 200;
    if (plan.appFailure) {
      status = plan.appFailure.status;
      this.sender.log(plan.pod, 'app', t - 0.1, ERROR, plan.appFailure.log, { 'exception.type': 'UpstreamError' }, ctx);
    } else if (failedCall) {
      status = plan.onCallFailure ?? (failedCall.status === 503 ? 503 : 502);
      this.sender.log(plan.pod, 'app', t - 0.1, WARN, `a call failed with ${failedCall.status}; answering ${status}`, {}, ctx);
    }
    const endMs = t + 0.2 + this.random() * 0.2;
    this.finish(span, endMs, plan.method, plan.route, status, null, plan.appFailure !== undefined);
    if (plan.appFailure) this.origins.push({ spanId: ctx.spanId, service: plan.pod.service, reason: 'app_error', operation: `${plan.method} ${plan.route}` });
    this.sender.log(plan.pod, 'sidecar', endMs, status >= 500 ? WARN : INFO, `${plan.method} ${path} ${status} ${(endMs - startMs).toFixed(1)}ms inbound`, { 'http.response.status_code': status }, ctx);
    return { endMs, status, span: ctx };
  }

  /** Sets the outcome attributes the record layer sets when a response completes. */
  private finish(span: Span, endMs: number, method: string, route: string, status: number, proxy: { reason: ProxyReason; message: string } | null, appOrigin: boolean): void {
    span.setAttribute(ATTR.httpStatus, status);
    span.setAttribute(ATTR.route, route);
    span.setAttribute(ATTR.httpRoute, route);
    if (proxy) {
      span.setAttribute(ATTR.errorReason, proxy.reason);
      span.setAttribute(ATTR.errorOrigin, 'proxy');
      this.sender.end(span, endMs, proxy.message);
    } else if (status >= 500) {
      span.setAttribute(ATTR.errorReason, 'app_error');
      span.setAttribute(ATTR.errorOrigin, 'app');
      this.sender.end(span, endMs, appOrigin ? `the app answered ${status}` : `${status} from the app`);
    } else {
      this.sender.end(span, endMs);
    }
  }

  private call(caller: PodIdentity, call: CallPlan, startMs: number, parent: SpanContext): Outcome {
    const path = call.path ?? call.route;
    // An app that drops the context makes the sidecar start a new trace for this call.
    const requestSpan = this.sender.start(caller, `${call.method} ${call.route}`, 'client', startMs, call.dropsContext ? null : parent, {
      ...this.common(),
      [ATTR.direction]: 'outbound',
      [ATTR.httpMethod]: call.method,
      [ATTR.urlPath]: path,
      [ATTR.serverAddress]: `${call.service}:8080`,
      [ATTR.requestId]: this.requestId(),
      [ATTR.peerService]: call.service,
      [ATTR.contextPropagated]: !call.dropsContext,
      ...(call.version ? { [ATTR.peerVersion]: call.version } : {}),
    });
    const requestCtx = requestSpan.spanContext();
    if (call.faultAbort) {
      const endMs = startMs + 0.3;
      requestSpan.setAttribute(ATTR.faultInjected, true);
      requestSpan.setAttribute(ATTR.faultKind, 'abort');
      this.finish(requestSpan, endMs, call.method, call.route, 503, { reason: 'fault_injected', message: `fault rule aborted the call to ${call.service} with 503` }, false);
      this.origins.push({ spanId: requestCtx.spanId, service: call.service, reason: 'fault_injected', operation: `${call.method} ${call.route}` });
      return { endMs, status: 503, span: requestCtx };
    }
    let t = startMs + 0.1;
    let last: { status: number; proxy: { reason: ProxyReason; message: string } | null; spanId: string } = { status: 502, proxy: null, spanId: '' };
    const deadline = call.timeoutMs !== undefined ? startMs + call.timeoutMs : Infinity;
    for (const [i, attempt] of call.attempts.entries()) {
      if (i > 0) t += 2 + this.random() * 8; // jittered backoff
      const attemptSpan = this.sender.start(caller, `${call.method} attempt`, 'client', t, requestCtx, {
        ...this.common(),
        [ATTR.retryAttempt]: i + 1,
        [ATTR.peerService]: call.service,
        [ATTR.direction]: 'outbound',
        [ATTR.httpMethod]: call.method,
        ...(call.version ? { [ATTR.peerVersion]: call.version } : {}),
      });
      const attemptCtx = attemptSpan.spanContext();
      if (attempt.kind === 'fail') {
        const endMs = t + attempt.latencyMs;
        if (attempt.endpoint) attemptSpan.setAttribute(ATTR.peerEndpoint, attempt.endpoint);
        const message = `${call.service}: ${attempt.reason.replace(/_/g, ' ')}${attempt.endpoint ? ` (${attempt.endpoint})` : ''}`;
        this.finish(attemptSpan, endMs, call.method, call.route, REASON_STATUS[attempt.reason], { reason: attempt.reason, message }, false);
        last = { status: REASON_STATUS[attempt.reason], proxy: { reason: attempt.reason, message }, spanId: attemptCtx.spanId };
        t = endMs;
        continue;
      }
      attemptSpan.setAttribute(ATTR.peerEndpoint, `${attempt.plan.pod.ip}:15006`);
      attemptSpan.setAttribute(ATTR.networkPeerAddress, attempt.plan.pod.ip);
      const served = this.serve(attempt.plan, t + 0.15 + this.random() * 0.1, attemptCtx, caller);
      if (served.endMs > deadline) {
        // The route timeout fires first: the attempt is cancelled, the callee finishes on its own later.
        const message = `${call.service} did not answer within ${call.timeoutMs} ms`;
        this.finish(attemptSpan, deadline, call.method, call.route, 504, { reason: 'request_timeout', message }, false);
        last = { status: 504, proxy: { reason: 'request_timeout', message }, spanId: attemptCtx.spanId };
        t = deadline;
        break;
      }
      const endMs = served.endMs + 0.1 + this.random() * 0.1;
      this.finish(attemptSpan, endMs, call.method, call.route, served.status, null, false);
      last = { status: served.status, proxy: null, spanId: attemptCtx.spanId };
      t = endMs;
      if (served.status < 500) break;
    }
    const endMs = t + 0.1;
    this.finish(requestSpan, endMs, call.method, call.route, last.status, last.proxy, false);
    if (last.proxy) this.origins.push({ spanId: last.spanId, service: call.service, reason: last.proxy.reason, operation: `${call.method} ${call.route}` });
    return { endMs, status: last.status, span: requestCtx };
  }
}
