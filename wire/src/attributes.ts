// Names of span, resource and log attributes that cross process boundaries (sidecar → collector → UI).
// OpenTelemetry semantic-convention names are used where one exists; `meshlet.*` where none does.

/**
 * Span attributes set by the sidecar and read by the collector.
 *
 * Span shape per hop (one sidecar on each side):
 * ```
 *  caller pod                                   callee pod
 *  SERVER (inbound, caller)                     SERVER (inbound, callee) ◄─ parent = attempt span
 *   └ CLIENT "request" (outbound, caller)            ▲
 *      └ CLIENT "attempt" n=1..N ─── traceparent ────┘
 * ```
 * The request span carries the final outcome; each attempt span carries `meshlet.retry.attempt`
 * and its own outcome. An attempt with no SERVER child (refused, timed out, ejected) is blamed on
 * `meshlet.peer.service`.
 *
 * As the sidecar makes them: SERVER and request spans are named `<METHOD> <route>` (route name from
 * config, else a path template such as `/orders/:id`), attempt spans `<METHOD> attempt`; attempts also
 * carry `meshlet.route`, `meshlet.peer.endpoint` and `meshlet.peer.version`. A SERVER span's
 * `meshlet.peer.service` is the caller (from its mTLS identity, else the calling sidecar's
 * `x-meshlet-caller` header). Failures decided before any attempt (unknown service, an injected fault,
 * a traffic split with no ready version) have a request span and no attempt; `no_endpoints` and
 * `circuit_open` from the balancer are attempts without `meshlet.peer.endpoint`. `Upgrade` tunnels (WebSocket) get one span per sidecar,
 * `<METHOD> upgrade`, from handshake to close.
 */
export const ATTR = Object.freeze({
  /** Failure reason (`FailureReason`) on a span whose request failed. */
  errorReason: 'meshlet.error.reason',
  /** `proxy | app`: who made the failure. */
  errorOrigin: 'meshlet.error.origin',
  /** The service on the other side of this hop (destination for CLIENT, caller for SERVER when known). */
  peerService: 'meshlet.peer.service',
  /** The endpoint (`ip:port`) an attempt went to. */
  peerEndpoint: 'meshlet.peer.endpoint',
  /** 1-based attempt number on an attempt span. */
  retryAttempt: 'meshlet.retry.attempt',
  /** Route name (from config) or route template that matched; bounded cardinality. */
  route: 'meshlet.route',
  /** Version (subset) of the destination chosen by a traffic split, e.g. `blue`. */
  peerVersion: 'meshlet.peer.version',
  /** `true` on a span whose failure or delay was injected by a fault rule. */
  faultInjected: 'meshlet.fault.injected',
  /** `delay | abort`: which fault was injected. */
  faultKind: 'meshlet.fault.kind',
  /** `false` when the app made this outbound call without the trace context of the inbound request in flight. */
  contextPropagated: 'meshlet.context.propagated',
  /** Load-test run id, copied from the `meshlet.run` baggage entry. */
  run: 'meshlet.run',
  /** `inbound | outbound`: which sidecar listener made the span. */
  direction: 'meshlet.direction',
  /** The `x-request-id` of the request. */
  requestId: 'meshlet.request_id',
  /** Names (comma-separated) of h2c request trailers that could not cross the HTTP/1.1 hop between sidecars. */
  requestTrailersDropped: 'meshlet.request.trailers_dropped',
  // Semantic conventions (stable HTTP), listed so every part spells them the same way.
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  httpRoute: 'http.route',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  clientAddress: 'client.address',
  networkPeerAddress: 'network.peer.address',
  networkPeerPort: 'network.peer.port',
  errorType: 'error.type',
  userAgent: 'user_agent.original',
  /** `http` (set on h2 requests, with the version; HTTP/1.1 spans carry the version only). */
  networkProtocolName: 'network.protocol.name',
  /** `1.1` or `2`: the HTTP version the client spoke to this sidecar. */
  networkProtocolVersion: 'network.protocol.version',
  // Semantic conventions (RPC, gRPC): on spans of requests with `content-type: application/grpc*`.
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  /** gRPC status code (integer) from the response trailers (or headers, for a trailers-only response). */
  rpcGrpcStatusCode: 'rpc.grpc.status_code',
});

/** Resource attributes every sidecar and the runtime put on what they send. */
export const RESOURCE = Object.freeze({
  serviceName: 'service.name',
  serviceVersion: 'service.version',
  serviceInstanceId: 'service.instance.id',
  /** Mesh name. */
  mesh: 'meshlet.mesh',
  /** Pod name, e.g. `payments-1` or `catalog-green-2`. */
  pod: 'meshlet.pod.name',
  /** Pod IP on the bridge. */
  podIp: 'meshlet.pod.ip',
  /** `sidecar | runtime | app | loadtest`: what produced the telemetry. */
  component: 'meshlet.component',
});

/** Baggage keys meshlet reads (W3C Baggage). */
export const BAGGAGE = Object.freeze({
  /** Load-test run id: `baggage: meshlet.run=<id>`; copied to spans as `meshlet.run`. */
  run: 'meshlet.run',
});
