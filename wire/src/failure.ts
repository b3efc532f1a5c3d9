// The failure vocabulary shared by proxy, collector, UI, metrics and logs (DESIGN.md, "The failure vocabulary").

/**
 * Why the proxy itself made a failed response. Every proxy-made response carries one of these in the
 * `x-meshlet-error` header, in its JSON body, on its span (`meshlet.error.reason`) and in metrics.
 */
export const PROXY_REASONS = [
  'connect_refused',
  'connect_timeout',
  'upstream_reset',
  'request_timeout',
  'no_endpoints',
  'circuit_open',
  'retry_budget_exhausted',
  'rate_limited',
  'unknown_service',
  'denied',
  'fault_injected',
  'header_overflow',
  'bad_request',
] as const;

/** A reason the proxy made the response. */
export type ProxyReason = (typeof PROXY_REASONS)[number];

/** The reason recorded when the app itself answered with a 5xx. */
export const APP_ERROR = 'app_error';

/** Any failure reason: a proxy reason, or `app_error` for a 5xx the app returned. */
export type FailureReason = ProxyReason | typeof APP_ERROR;

/** Every failure reason, proxy reasons first. */
export const FAILURE_REASONS: readonly FailureReason[] = [...PROXY_REASONS, APP_ERROR];

/** Who produced a failure: the mesh (`proxy`) or the service's own code (`app`). */
export const FAILURE_ORIGINS = ['proxy', 'app'] as const;
export type FailureOrigin = (typeof FAILURE_ORIGINS)[number];

/**
 * The HTTP status a proxy-made response carries for each reason.
 * `fault_injected` defaults to 503; an abort fault may name its own status.
 */
export const REASON_STATUS: Readonly<Record<ProxyReason, number>> = Object.freeze({
  connect_refused: 502,
  connect_timeout: 502,
  upstream_reset: 502,
  request_timeout: 504,
  no_endpoints: 503,
  circuit_open: 503,
  retry_budget_exhausted: 503,
  rate_limited: 429,
  unknown_service: 404,
  denied: 403,
  fault_injected: 503,
  header_overflow: 431,
  bad_request: 400,
});

/** One sentence per reason that tells a user what to look at. Shown in error bodies and the UI. */
export const REASON_HINTS: Readonly<Record<FailureReason, string>> = Object.freeze({
  connect_refused: 'The endpoint refused the connection: is the service listening on its port, or did it crash?',
  connect_timeout: 'No TCP connection within the connect timeout: the endpoint is down, overloaded or unreachable.',
  upstream_reset: 'The upstream closed or reset the connection before a complete response: it crashed or hit a limit.',
  request_timeout: 'No complete response within the route timeout: the service (or something it calls) is slow.',
  no_endpoints: 'The service has no healthy endpoint: all replicas are down, unready or ejected.',
  circuit_open: 'Every endpoint is ejected after consecutive failures; recovery probes will let traffic back.',
  retry_budget_exhausted: 'Retries are capped at 20 % of requests so they never amplify an outage; the failure that caused them is upstream.',
  rate_limited: 'The caller exceeded a rate limit set in the mesh policy.',
  unknown_service: 'The Host of the request names no service in the mesh: check the service name and port.',
  denied: 'The mesh policy of the destination does not allow this caller.',
  fault_injected: 'A fault rule in the mesh config made this failure on purpose.',
  header_overflow: 'The request headers exceed the size or count limit; the proxy rejects rather than truncates.',
  bad_request: 'The request is malformed HTTP and was not forwarded.',
  app_error: 'The service itself answered with a 5xx; look at its logs and its span.',
});

/** True when `value` is one of the proxy reasons. */
export function isProxyReason(value: unknown): value is ProxyReason {
  return typeof value === 'string' && (PROXY_REASONS as readonly string[]).includes(value);
}

/** True when `value` is a failure reason (a proxy reason or `app_error`). */
export function isFailureReason(value: unknown): value is FailureReason {
  return value === APP_ERROR || isProxyReason(value);
}

/** The origin a reason implies: `app` for `app_error`, `proxy` for everything else. */
export function originOf(reason: FailureReason): FailureOrigin {
  return reason === APP_ERROR ? 'app' : 'proxy';
}

/**
 * JSON body of every proxy-made response (with the `x-meshlet-error` header set to `reason`).
 * @example
 * { error: 'payments has no healthy endpoint', reason: 'no_endpoints', service: 'payments',
 *   endpoint: null, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', hint: REASON_HINTS.no_endpoints }
 */
export interface MeshErrorBody {
  /** One human sentence: what failed, naming the service. */
  error: string;
  reason: ProxyReason;
  /** The destination service (outbound) or the local service (inbound), when known. */
  service: string | null;
  /** `host:port` of the endpoint tried last, when one was picked. */
  endpoint: string | null;
  /** Trace id (32 lowercase hex) of the request, so the user can open the trace. */
  traceId: string | null;
  hint: string;
}
