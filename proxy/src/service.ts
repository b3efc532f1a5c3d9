// The proxy's core interface (DESIGN.md "Sidecar"): a request is a ProxyRequest, a Service answers it
// with a ProxyResponse, a Layer wraps a Service. Stacks are lists of layers, outermost first.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { FailureOrigin, FailureReason } from '@meshlet/wire';
import type { ResponseBody } from './response-body.ts';
import type { SpanHandle } from './telemetry/tracer.ts';
import type { TraceParent } from './context.ts';
import type { Dispatcher } from 'undici';
import type { RouteConfig } from '@meshlet/wire';
import type { Destination } from './destinations.ts';

/** Header values as node:http and undici give them (lower-case names). */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** A request as the listener received it: HTTP/1.1 (node:http) or h2c (node:http2's compatibility API). */
export type IncomingRequest = IncomingMessage | Http2ServerRequest;

/** Where the request came in: app → mesh (`outbound`) or mesh → app (`inbound`). */
export type Direction = 'inbound' | 'outbound';

/** One request travelling through a stack. Layers read and annotate it; `forward` sends it. */
export interface ProxyRequest {
  readonly direction: Direction;
  readonly method: string;
  /** Origin-form target (`/path?query`), also when the client sent absolute-form. */
  readonly path: string;
  /** Host (or absolute-form authority) the client addressed. */
  readonly authority: string;
  /** Headers as received (lower-case names), for reading. */
  readonly incomingHeaders: HeaderMap;
  /** A gRPC request (`content-type: application/grpc*`), told once when it arrives. */
  readonly grpc: boolean;
  /**
   * Headers to send upstream as a flat `[name, value, ...]` list in arrival order and case, hop-by-hop
   * and trace headers removed (forward adds the trace headers of each attempt). Layers may replace it.
   */
  headers: string[];
  /** The incoming message: its socket and its body stream (`httpVersion` says `2.0` for h2c). */
  readonly incoming: IncomingRequest;
  /** Body to send: the incoming stream, a replay buffer, or null when the request has none. */
  body: IncomingRequest | Buffer | null;
  /** Declared Content-Length, or null (chunked or none). */
  readonly contentLength: number | null;
  /** performance.now() when the request arrived. */
  readonly startMs: number;
  /** Trace context the request arrived with (W3C or B3), or null. */
  readonly parent: TraceParent | null;
  /** W3C tracestate to forward (already validated and truncated), or null. */
  readonly tracestate: string | null;
  readonly requestId: string;
  /** `meshlet.run` baggage entry, or null. */
  readonly run: string | null;
  /** Caller service (inbound: from the mTLS identity or the caller header). */
  peerService: string | null;
  /** The caller's verified SPIFFE id (inbound under mTLS), or null. */
  readonly peerIdentity: string | null;
  /** Destination service (outbound) or local service (inbound), once known. */
  service: string | null;
  /** Route name or path template; bounded cardinality. */
  route: string;
  /** Span of this hop (SERVER or CLIENT request span) that attempts and the app hang under. */
  span: SpanHandle | null;
  /** Absolute deadline (performance.now() ms) set by the timeout layer; Infinity when none. */
  deadlineMs: number;
  /** Deadline of the attempt in progress (per-try timeout), at most `deadlineMs`. */
  attemptDeadlineMs: number;
  /** True once the client went away: nothing more should be sent for it. */
  aborted: boolean;
  /** Called when the client goes away before the response is complete. */
  onAbort: (() => void) | null;
  /** Set by the fault layer when it delayed the request. */
  faultDelayed: boolean;
  /** For `Expect: 100-continue`: sends `100 Continue` the first time the body is needed. */
  readonly sendContinue: (() => void) | null;
  /** Set by route: which destination version a traffic split picked. */
  version: string | null;
  /** `false` when an outbound call carried no or another trace than the inbound requests in flight. */
  contextPropagated: boolean | null;
  /** Endpoint of the last attempt. */
  endpoint: string | null;
  /** Where `forward` sends the request: set by balance (outbound) or the inbound stack (the app). */
  target: Target | null;
  /** Destination and route the route layer matched (outbound). */
  destination: Destination | null;
  routeConfig: RouteConfig | null;
  /** Span of the attempt in progress (outbound), whose id goes upstream in `traceparent`. */
  attemptSpan: SpanHandle | null;
  /** Attempts made so far (0 before the first). */
  attempts: number;
}

/** An upstream: one endpoint address and its connection pool. */
export interface Target {
  readonly address: string;
  /** An undici Pool, or the h2c client of an app that speaks HTTP/2 (the same dispatch contract). */
  readonly pool: Pick<Dispatcher, 'dispatch'>;
}

/** A response on its way back. Proxy-made responses carry `reason`; app responses may carry `reason: app_error`. */
export interface ProxyResponse {
  status: number;
  headers: HeaderMap;
  /** Streaming body, or null for an empty body. */
  body: ResponseBody | Buffer | null;
  /** Failure reason when this response is a failure (proxy-made, or a 5xx the app returned). */
  reason: FailureReason | null;
  origin: FailureOrigin | null;
  endpoint: string | null;
  faultInjected: boolean;
}

/** Answers a request. Rejects only with errors; `rescue` turns them into responses. */
export type Service = (req: ProxyRequest) => Promise<ProxyResponse>;

/** Wraps a service with one concern (route, retry, balance...). */
export type Layer = (next: Service) => Service;

/**
 * Builds a stack: `layers[0]` is outermost, `inner` answers last.
 * @example stack([rescue, record, route], forward)
 */
export function stack(layers: readonly Layer[], inner: Service): Service {
  let service = inner;
  for (let i = layers.length - 1; i >= 0; i--) service = (layers[i] as Layer)(service);
  return service;
}
