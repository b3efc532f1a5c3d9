// The collector's query API on 16686, as the UI reads it: paths, parameters and response shapes.
// Times are milliseconds since the epoch (numbers) unless a field says `Nano` (decimal strings, exact).
// The Jaeger-compatible API lives beside it under `/api/...`; this one is `/api/v1/...`.
import type { FailureOrigin, FailureReason } from './failure.ts';
import type { HealthStatus, PodState } from './infra-events.ts';

/** Paths of the query API. Every response is JSON except `stream` (SSE). Errors: `ApiError` with a 4xx/5xx. */
export const QUERY_API = Object.freeze({
  services: '/api/v1/services',
  graph: '/api/v1/graph',
  failures: '/api/v1/failures',
  traces: '/api/v1/traces',
  trace: (traceId: string) => `/api/v1/traces/${traceId}`,
  logs: '/api/v1/logs',
  mesh: '/api/v1/mesh',
  runs: '/api/v1/runs',
  run: (runId: string) => `/api/v1/runs/${encodeURIComponent(runId)}`,
  stream: '/api/v1/stream',
  health: '/api/v1/health',
});

/** Body of every error response of the query API. */
export interface ApiError {
  error: string;
  /** Stable code, e.g. `ERR_COLLECTOR_BAD_PARAM`. */
  code: string;
  /** The query parameter at fault, for 400s. */
  param?: string;
}

/**
 * Time window shared by graph, failures, traces and runs: `from`/`to` in ms since the epoch,
 * or `lookbackMs` back from now (default 15 min). `run` restricts to one load-test run.
 */
export interface WindowParams {
  from?: number;
  to?: number;
  lookbackMs?: number;
  run?: string;
}

/** `GET /api/v1/services` */
export interface ServicesResponse {
  services: ServiceSummary[];
}
export interface ServiceSummary {
  name: string;
  /** Span names seen for the service, most frequent first. */
  operations: string[];
  /** `service.version` values seen (e.g. blue, green). */
  versions: string[];
  lastSeenMs: number;
}

export type Health = 'ok' | 'degraded' | 'failing' | 'idle';

/** `GET /api/v1/graph?from&to|lookbackMs&run` */
export interface GraphResponse {
  window: { from: number; to: number };
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface LatencyStats {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export interface GraphNode extends LatencyStats {
  /** Service name; node id. */
  service: string;
  versions: string[];
  /** True when the service receives requests from outside the mesh (no caller service). */
  entry: boolean;
  /** Requests the service served (SERVER spans) in the window, and per second. */
  requests: number;
  ratePerSecond: number;
  errors: number;
  errorRate: number;
  /** Failures that originated in this service in the window. */
  originFailures: number;
  /** Failures that passed through this service from elsewhere. */
  propagatedFailures: number;
  health: Health;
  /** The service made outbound calls without propagating trace context. */
  dropsContext: boolean;
  /** Pods from the runtime, when known. */
  pods: number;
}

export interface GraphEdge extends LatencyStats {
  /** `<from>-><to>`; stable across updates so the UI can patch without re-layout. */
  id: string;
  from: string;
  to: string;
  /** Destination versions seen on this edge with their request counts (blue-green shifts). */
  versions: Record<string, number>;
  requests: number;
  ratePerSecond: number;
  errors: number;
  errorRate: number;
  /** Extra attempts made by retries on this edge, and how many of them recovered the request. */
  retries: number;
  recovered: number;
  /** Failure reasons on this edge with counts. */
  reasons: Partial<Record<FailureReason, number>>;
  health: Health;
  /** Failures on this edge that originated at (or beyond) the callee vs. were only passed back. */
  originFailures: number;
}

/** `GET /api/v1/failures?from&to|lookbackMs&run&service&reason&limit` — ranked by count. */
export interface FailuresResponse {
  window: { from: number; to: number };
  points: FailurePoint[];
}

/** Origins aggregated by (service, operation, reason). */
export interface FailurePoint {
  /** Stable id: `<service>|<operation>|<reason>`. */
  id: string;
  service: string;
  operation: string;
  reason: FailureReason;
  origin: FailureOrigin;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Counts per bucket across the window, oldest first (a sparkline). */
  series: { bucketMs: number; counts: number[] };
  /** Up to 5 trace ids, newest first. */
  exampleTraceIds: string[];
  /** Entry operations (service + span name of the trace root) this failure broke. */
  entryOperations: { service: string; operation: string; count: number }[];
  /** Services that only passed this failure on to their callers. */
  propagatedBy: string[];
  /** The error text (status message / hint) of the newest example. */
  message: string;
}

/**
 * `GET /api/v1/traces?service&operation&status=error|ok&originService&reason&minDurationMs&maxDurationMs
 *  &attr=key=value (repeatable)&from&to|lookbackMs&run&limit` (default limit 50, newest first)
 */
export interface TraceSearchResponse {
  traces: TraceSummary[];
  /** True when more traces matched than `limit`. */
  truncated: boolean;
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootOperation: string;
  startMs: number;
  durationMs: number;
  spanCount: number;
  errorCount: number;
  services: string[];
  status: 'ok' | 'error';
  /** Origin spans of the trace's failures. */
  origins: { service: string; operation: string; reason: FailureReason; spanId: string }[];
  runId?: string;
}

export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface SpanView {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  /** Pod name (`meshlet.pod.name`) and `service.version` from the span's resource. */
  pod?: string;
  version?: string;
  name: string;
  kind: SpanKindName;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** Offset from the trace start, and duration, in ms (floating point). */
  startOffsetMs: number;
  durationMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  events: { name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }[];
  /** This span's part in the trace's failure: where it started, on its way up, or none. */
  role: 'origin' | 'propagated' | null;
  reason?: FailureReason;
  errorOrigin?: FailureOrigin;
  /** A retried attempt that failed but whose request recovered. */
  recovered?: boolean;
}

export interface LogView {
  timeUnixNano: string;
  timeMs: number;
  severityText: string;
  severityNumber: number;
  body: string;
  service: string;
  pod?: string;
  traceId?: string;
  spanId?: string;
  /** Set for runtime events: the `event.name` (see infra-events.ts). */
  eventName?: string;
  attributes: Record<string, AttributeValue>;
}

/** `GET /api/v1/traces/:traceId` (404 `ApiError` when unknown). */
export interface TraceDetail {
  traceId: string;
  startMs: number;
  durationMs: number;
  spans: SpanView[];
  /** Log records carrying this trace id. */
  logs: LogView[];
  /** Runtime events of the trace's services and pods during the trace (±5 s). */
  events: LogView[];
  /** Span ids of origin spans, and of the spans that propagated them (origin → root). */
  origins: string[];
  propagation: string[];
  /** Span ids on the critical path, root first. */
  criticalPath: string[];
  /** Services in the trace that made calls without propagating context. */
  dropsContext: string[];
}

/** `GET /api/v1/logs?service&pod&traceId&eventName&severityMin&from&to|lookbackMs&limit` */
export interface LogsResponse {
  logs: LogView[];
}

/** `GET /api/v1/mesh` — pods from the runtime's `meshlet.pod.status` snapshots, plus recent events. */
export interface MeshResponse {
  /** Pods reported in the last minute, by mesh. Empty when no runtime reports (standalone sidecars). */
  pods: PodView[];
  events: LogView[];
}

export interface PodView {
  mesh: string;
  pod: string;
  service: string;
  version?: string;
  ip?: string;
  netns?: string;
  veth?: string;
  state: PodState;
  health: HealthStatus;
  restarts: number;
  cpuSeconds?: number;
  /** CPU use as a fraction of one core over the last snapshot interval. */
  cpuCores?: number;
  memoryBytes?: number;
  memoryLimitBytes?: number;
  startedAtMs?: number;
  lastReportMs: number;
}

/** `GET /api/v1/runs` — load-test runs, newest first. */
export interface RunsResponse {
  runs: RunSummary[];
}

export interface RunSummary extends LatencyStats {
  runId: string;
  name?: string;
  startMs: number;
  endMs: number;
  requests: number;
  errors: number;
  ratePerSecond: number;
  thresholdsPassed?: boolean;
}

/** `GET /api/v1/runs/:runId?baseline=<runId>` */
export interface RunDetail {
  run: RunSummary;
  /** Per-second (or coarser) buckets over the run. */
  series: { tMs: number; requests: number; errors: number; p50Ms: number; p90Ms: number; p99Ms: number }[];
  errorsByReason: Partial<Record<FailureReason, number>>;
  graph: GraphResponse;
  failures: FailurePoint[];
  /** Present when `baseline` was given: this run minus the baseline. */
  diff?: {
    baseline: RunSummary;
    p50DeltaMs: number;
    p99DeltaMs: number;
    errorRateDelta: number;
    rateDelta: number;
  };
}

/**
 * `GET /api/v1/stream` — Server-Sent Events. Event names and their data (JSON):
 * - `graph`: a `GraphResponse` for the default window, at most once a second while it changes;
 * - `failure`: a `FailurePoint` whose count grew;
 * - `trace`: a `TraceSummary` of a newly analysed trace (failed ones always, ok ones sampled);
 * - `mesh`: a `MeshResponse` when pods change.
 */
export type StreamEvent =
  | { event: 'graph'; data: GraphResponse }
  | { event: 'failure'; data: FailurePoint }
  | { event: 'trace'; data: TraceSummary }
  | { event: 'mesh'; data: MeshResponse };

/** `GET /api/v1/health` — the collector's own state. */
export interface CollectorHealth {
  ok: boolean;
  spansStored: number;
  tracesStored: number;
  queueDepth: number;
  analysisLagMs: number;
  oldestSpanMs: number | null;
  newestSpanMs: number | null;
  version: string;
}
