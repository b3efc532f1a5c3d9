// record: the span of this hop (SERVER on inbound, CLIENT request span on outbound), the RED metrics
// and the access log line, all completed when the response body has been sent. Errors pass through
// (rescue, above, renders them); record notes them first. Telemetry work is bounded and never throws
// into the request.
import { ATTR, type FailureOrigin, type FailureReason } from '@meshlet/wire';
import { MeshError, toMeshError } from '../errors.ts';
import { grpcStatusIn, grpcStatusOf, rpcOfPath } from '../grpc.ts';
import { ResponseBody } from '../response-body.ts';
import type { AccessLog } from '../telemetry/access-log.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { SpanHandle, Tracer } from '../telemetry/tracer.ts';
import type { Layer, ProxyRequest, ProxyResponse } from '../service.ts';
import type { TraceTracker } from '../trace-tracker.ts';

export interface RecordDeps {
  tracer: Tracer;
  metrics: () => Metrics | null;
  accessLog: () => AccessLog | null;
  localService: () => string;
  inflight: TraceTracker;
}

interface Outcome {
  status: number;
  reason: FailureReason | null;
  origin: FailureOrigin | null;
  faultInjected: boolean;
  message: string | null;
}

const NO_ATTRIBUTES = Object.freeze({});

function finish(deps: RecordDeps, req: ProxyRequest, span: SpanHandle, outcome: Outcome, bytes: number, broken: Error | null, grpcStatus: number | null = null): void {
  const durationMs = performance.now() - req.startMs;
  const inbound = req.direction === 'inbound';
  if (inbound) deps.inflight.end(span.traceId);
  if (deps.tracer.recording) {
    annotate(req, span, outcome, broken, inbound);
    if (grpcStatus !== null) span.setAttribute(ATTR.rpcGrpcStatusCode, grpcStatus);
  }
  span.end();
  report(deps, req, span, outcome, bytes, durationMs, inbound);
}

function annotate(req: ProxyRequest, span: SpanHandle, outcome: Outcome, broken: Error | null, inbound: boolean): void {
  span.setAttribute(ATTR.httpStatus, outcome.status);
  span.setAttribute(ATTR.route, req.route);
  span.setAttribute(ATTR.httpRoute, req.route);
  span.updateName(`${req.method} ${req.route}`);
  if (req.endpoint !== null) span.setAttribute(ATTR.peerEndpoint, req.endpoint);
  if (req.version !== null) span.setAttribute(ATTR.peerVersion, req.version);
  if (req.service !== null && !inbound) span.setAttribute(ATTR.peerService, req.service);
  if (req.contextPropagated !== null) span.setAttribute(ATTR.contextPropagated, req.contextPropagated);
  if (outcome.faultInjected || req.faultDelayed) {
    span.setAttribute(ATTR.faultInjected, true);
    span.setAttribute(ATTR.faultKind, outcome.faultInjected ? 'abort' : 'delay');
  }
  if (outcome.reason !== null) {
    span.setAttribute(ATTR.errorReason, outcome.reason);
    span.setAttribute(ATTR.errorOrigin, outcome.origin ?? 'proxy');
    span.setError(outcome.message ?? `${outcome.status} ${outcome.reason}`);
  } else if (broken !== null) {
    span.setAttribute(ATTR.errorType, 'response_incomplete');
    span.setError(broken.message);
  }
}

function report(deps: RecordDeps, req: ProxyRequest, span: SpanHandle, outcome: Outcome, bytes: number, durationMs: number, inbound: boolean): void {
  const metrics = deps.metrics();
  if (metrics !== null) {
    metrics.inFlight(req.direction, -1);
    metrics.request({
      direction: req.direction,
      source: inbound ? (req.peerService ?? 'unknown') : deps.localService(),
      destination: inbound ? deps.localService() : (req.service ?? 'unknown'),
      route: req.route,
      status: outcome.status,
      reason: outcome.reason ?? '',
      durationSeconds: durationMs / 1000,
    });
  }
  const log = deps.accessLog();
  if (log !== null) {
    log.write({
      direction: req.direction,
      method: req.method,
      authority: req.authority,
      path: req.path.length > 512 ? req.path.slice(0, 512) : req.path,
      status: outcome.status,
      reason: outcome.reason,
      origin: outcome.origin,
      service: req.service,
      peer: req.peerService,
      route: req.route,
      endpoint: req.endpoint,
      durationMs: Math.round(durationMs * 1000) / 1000,
      bytesOut: bytes,
      traceId: span.traceId,
      spanId: span.spanId,
      requestId: req.requestId,
      attempts: req.attempts,
      faultInjected: outcome.faultInjected || req.faultDelayed,
    });
  }
}

export function record(deps: RecordDeps): Layer {
  return (next) => async (req) => {
    const inbound = req.direction === 'inbound';
    const recording = deps.tracer.recording;
    const attributes = recording ? startAttributes(req, inbound) : NO_ATTRIBUTES;
    if (!inbound && deps.inflight.size() > 0) {
      // The app is handling an inbound request: its calls should carry that request's trace.
      req.contextPropagated = req.parent !== null && deps.inflight.has(req.parent.traceId);
    }
    const span = deps.tracer.startSpan(req.method, inbound ? 'server' : 'client', req.parent, attributes);
    req.span = span;
    if (inbound) deps.inflight.begin(span.traceId);
    deps.metrics()?.inFlight(req.direction, 1);
    let res: ProxyResponse;
    try {
      res = await next(req);
    } catch (err) {
      const mesh = err instanceof MeshError ? err : toMeshError(err, req.service, req.endpoint);
      if (req.contextPropagated === false) deps.metrics()?.contextNotPropagated(req.service ?? 'unknown');
      const grpcStatus = req.grpc ? grpcStatusOf(mesh.reason, mesh.status) : null;
      finish(deps, req, span, { status: mesh.status, reason: mesh.reason, origin: 'proxy', faultInjected: mesh.faultInjected, message: mesh.message }, 0, null, grpcStatus);
      throw mesh;
    }
    if (req.contextPropagated === false) deps.metrics()?.contextNotPropagated(req.service ?? 'unknown');
    const outcome = responseOutcome(res, inbound);
    const body = res.body;
    if (body instanceof ResponseBody) body.onDone((error, bytes) => finish(deps, req, span, outcome, bytes, error, req.grpc ? grpcStatusIn(res.headers, body.trailers) : null));
    else finish(deps, req, span, outcome, body === null ? 0 : body.length, null, req.grpc ? grpcStatusIn(res.headers, null) : null);
    return res;
  };
}

function startAttributes(req: ProxyRequest, inbound: boolean): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {
    [ATTR.direction]: req.direction,
    [ATTR.httpMethod]: req.method,
    [ATTR.urlPath]: pathOnly(req.path),
    [ATTR.serverAddress]: req.authority,
    [ATTR.requestId]: req.requestId,
    [ATTR.networkProtocolName]: 'http',
    [ATTR.networkProtocolVersion]: req.incoming.httpVersionMajor === 2 ? '2' : req.incoming.httpVersion,
  };
  if (req.run !== null) attributes[ATTR.run] = req.run;
  if (req.grpc) {
    attributes[ATTR.rpcSystem] = 'grpc';
    const rpc = rpcOfPath(req.path);
    if (rpc !== null) {
      attributes[ATTR.rpcService] = rpc.service;
      attributes[ATTR.rpcMethod] = rpc.method;
    }
  }
  if (inbound) {
    if (req.peerService !== null) attributes[ATTR.peerService] = req.peerService;
    const remote = req.incoming.socket.remoteAddress;
    if (remote !== undefined) attributes[ATTR.clientAddress] = remote;
  }
  return attributes;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/**
 * What a response means for this hop. On inbound a 5xx is the app's own (`app_error`, origin app).
 * On outbound a 5xx carries the remote sidecar's `x-meshlet-error` when a proxy made it, else it is
 * the remote app's; retry attempts below have recorded the details.
 */
function responseOutcome(res: ProxyResponse, inbound: boolean): Outcome {
  if (res.reason !== null) return { status: res.status, reason: res.reason, origin: res.origin, faultInjected: res.faultInjected, message: null };
  if (res.status < 500) return { status: res.status, reason: null, origin: null, faultInjected: false, message: null };
  if (inbound) return { status: res.status, reason: 'app_error', origin: 'app', faultInjected: false, message: `the app answered ${res.status}` };
  const remote = res.headers['x-meshlet-error'];
  if (typeof remote === 'string' && remote !== 'app_error') {
    return { status: res.status, reason: remote as FailureReason, origin: 'proxy', faultInjected: false, message: `${res.status} ${remote} from the ${String(res.endpoint)} sidecar` };
  }
  return { status: res.status, reason: 'app_error', origin: 'app', faultInjected: false, message: `${res.status} from the app` };
}
