// What one sidecar needs to know, as a zod schema: the contract between the runtime's config API
// (15010) and the proxy, and the format of `meshlet proxy --config FILE`. JSON, camelCase,
// milliseconds and bytes. The runtime derives it from the mesh spec plus live endpoints.
import { z } from 'zod';
import { FAILURE_REASONS, type FailureReason } from './failure.ts';
import { DEFAULT_MESH_NAME, LOOPBACK, SIDECAR_ADMIN_PORT, SIDECAR_INBOUND_PORT, SIDECAR_OUTBOUND_PORT } from './ports.ts';
import { NAME_PATTERN } from './names.ts';

/** `host:port`, e.g. `127.0.0.1:15006` or `10.77.0.5:15006`. */
export const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, { error: 'expected "HOST:PORT"' });

const serviceName = z.string().regex(NAME_PATTERN, { error: 'expected a service name (lowercase, digits, "-")' });

/** Request matching; every given field must match. Header names are lower-case. */
export const matchSchema = z.strictObject({
  path: z.string().startsWith('/').optional(),
  pathPrefix: z.string().startsWith('/').optional(),
  method: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});
export type MatchConfig = z.output<typeof matchSchema>;

/** Retry policy of a destination or route. `maxRetries` counts retries after the first attempt. */
export const retrySchema = z.strictObject({
  maxRetries: z.number().int().min(0).max(10).default(2),
  /** Failures worth another attempt. `app_error` means a 5xx from the app (only 502/503/504 are retried). */
  retryOn: z.array(z.enum(FAILURE_REASONS as [FailureReason, ...FailureReason[]])).default(['connect_refused', 'connect_timeout', 'upstream_reset']),
  /** Also retry methods that are not idempotent (POST, PATCH) on this route. */
  retryNonIdempotent: z.boolean().default(false),
  perTryTimeoutMs: z.number().positive().optional(),
});
export type RetryConfig = z.output<typeof retrySchema>;

/** Retry budget: retries may add at most `ratio` of the request rate plus `minRetriesPerSecond`, over `windowMs`. */
export const retryBudgetSchema = z.strictObject({
  ratio: z.number().min(0).max(1).default(0.2),
  minRetriesPerSecond: z.number().min(0).default(10),
  windowMs: z.number().int().positive().default(10_000), // 10 s
});
export type RetryBudgetConfig = z.output<typeof retryBudgetSchema>;

/** Outlier ejection: after `consecutiveFailures`, an endpoint is ejected for `baseEjectionMs × times ejected`. */
export const outlierSchema = z.strictObject({
  consecutiveFailures: z.number().int().min(1).default(5),
  baseEjectionMs: z.number().int().positive().default(30_000), // 30 s
  maxEjectionPercent: z.number().min(0).max(100).default(50),
});
export type OutlierConfig = z.output<typeof outlierSchema>;

/** Version (subset) weights of a traffic split, e.g. `{ blue: 90, green: 10 }`. */
export const trafficSchema = z.record(z.string(), z.number().int().min(0));

/** A fault rule: delay and/or abort a percentage of matching requests. */
export const faultSchema = z.strictObject({
  name: z.string().optional(),
  match: matchSchema.optional(),
  delay: z.strictObject({ ms: z.number().min(0), percent: z.number().min(0).max(100).default(100) }).optional(),
  abort: z.strictObject({ status: z.number().int().min(200).max(599).default(503), percent: z.number().min(0).max(100).default(100) }).optional(),
});
export type FaultConfig = z.output<typeof faultSchema>;

/** A route inside a destination: first match wins; unset fields inherit from the destination. */
export const routeSchema = z.strictObject({
  name: z.string(),
  match: matchSchema.default({}),
  timeoutMs: z.number().positive().optional(),
  retry: retrySchema.optional(),
  traffic: trafficSchema.optional(),
});
export type RouteConfig = z.output<typeof routeSchema>;

/** One endpoint of a destination: another sidecar's inbound address. */
export const endpointSchema = z.strictObject({
  address: hostPort,
  version: z.string().optional(),
  pod: z.string().optional(),
  /** False while the pod is starting or unhealthy: the balancer skips it. */
  ready: z.boolean().default(true),
});
export type EndpointConfig = z.output<typeof endpointSchema>;

/** A service this sidecar's app may call. */
export const destinationSchema = z.strictObject({
  /** Service VIP, so a request to `vip:port` by address maps back to this service. */
  vip: z.string().optional(),
  /** The service port apps use (`http://payments:8080`). */
  port: z.number().int().min(1).max(65535).optional(),
  endpoints: z.array(endpointSchema).default([]),
  timeoutMs: z.number().positive().default(15_000), // 15 s
  retry: retrySchema.default({ maxRetries: 2, retryOn: ['connect_refused', 'connect_timeout', 'upstream_reset'], retryNonIdempotent: false }),
  retryBudget: retryBudgetSchema.default({ ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 }),
  outlier: outlierSchema.default({ consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 }),
  traffic: trafficSchema.optional(),
  routes: z.array(routeSchema).default([]),
  faults: z.array(faultSchema).default([]),
  /** SPIFFE id the destination's sidecars must present under mTLS. */
  identity: z.string().optional(),
});
export type DestinationConfig = z.output<typeof destinationSchema>;

/** Limits that protect the proxy; requests over a limit are rejected, never truncated. */
export const limitsSchema = z.strictObject({
  maxHeaderBytes: z.number().int().positive().default(16 * 1024), // 16 KiB, Node's default
  maxHeaderCount: z.number().int().positive().default(100),
  headersTimeoutMs: z.number().int().positive().default(10_000), // 10 s: slowloris cut-off
  keepAliveTimeoutMs: z.number().int().positive().default(5_000), // 5 s idle client connections
  /**
   * Idle connections from the local app on the outbound listener: 1 h, as Envoy's default idle timeout.
   * An app's HTTP client (Node's Agent, Go's Transport) reuses an idle connection whenever it wants; a
   * close racing that reuse fails the app's request with ECONNRESET, and nothing between the app and its
   * sidecar can retry it. Under CPU contention a stalled sidecar fires its idle timers before it reads
   * the waiting requests, so a short timeout here turns stalls into failed requests.
   */
  appKeepAliveTimeoutMs: z.number().int().positive().default(3_600_000),
  connectTimeoutMs: z.number().int().positive().default(1_000), // 1 s
  upstreamIdleTimeoutMs: z.number().int().positive().default(4_000), // under the peer's 5 s keep-alive
  drainTimeoutMs: z.number().int().positive().default(10_000), // 10 s
  maxRetryBodyBytes: z.number().int().min(0).default(64 * 1024), // 64 KiB replay buffer
});
export type LimitsConfig = z.output<typeof limitsSchema>;

/** The whole config of one sidecar. */
export const sidecarConfigSchema = z.strictObject({
  /** Bumped by the runtime on every change; the sidecar applies a revision once. */
  revision: z.number().int().min(0).default(0),
  mesh: z.string().default(DEFAULT_MESH_NAME),
  service: serviceName,
  serviceVersion: z.string().optional(),
  pod: z.string().optional(),
  podIp: z.string().optional(),
  listen: z
    .strictObject({
      inbound: hostPort.default(`${LOOPBACK}:${SIDECAR_INBOUND_PORT}`),
      outbound: hostPort.default(`${LOOPBACK}:${SIDECAR_OUTBOUND_PORT}`),
      admin: hostPort.default(`${LOOPBACK}:${SIDECAR_ADMIN_PORT}`),
    })
    .default({
      inbound: `${LOOPBACK}:${SIDECAR_INBOUND_PORT}`,
      outbound: `${LOOPBACK}:${SIDECAR_OUTBOUND_PORT}`,
      admin: `${LOOPBACK}:${SIDECAR_ADMIN_PORT}`,
    }),
  /** The local app, where inbound traffic goes; null for a sidecar with outbound traffic only. */
  app: hostPort.nullable(),
  /**
   * How the inbound sidecar talks to the app: `http` (HTTP/1.1) or `h2c` (HTTP/2 with prior knowledge,
   * e.g. a gRPC server; one multiplexed session). Callers may use either on the listeners regardless.
   */
  appProtocol: z.enum(['http', 'h2c']).default('http'),
  /** OTLP/HTTP base URL (`http://10.77.0.1:4318`); null turns span and log export off. */
  collector: z.url().nullable().default(null),
  /** Honour the `x-meshlet-fault` request header. */
  testMode: z.boolean().default(false),
  telemetry: z
    .strictObject({ spans: z.boolean().default(true), metrics: z.boolean().default(true), accessLog: z.boolean().default(true) })
    .default({ spans: true, metrics: true, accessLog: true }),
  limits: limitsSchema.default(limitsSchema.parse({})),
  inbound: z
    .strictObject({
      /** Caller services allowed (by mTLS identity, else by `meshlet.peer.service`); unset allows all. */
      allow: z.array(z.string()).optional(),
      deny: z.array(z.string()).default([]),
      rateLimit: z.strictObject({ rps: z.number().positive(), burst: z.number().int().positive() }).optional(),
      faults: z.array(faultSchema).default([]),
    })
    .default({ deny: [], faults: [] }),
  /** Services the app may call, by name (the Host it uses). */
  destinations: z.record(serviceName, destinationSchema).default({}),
  /** mTLS material (PEM); null for plain HTTP between sidecars. */
  tls: z.strictObject({ certPem: z.string(), keyPem: z.string(), caPem: z.string(), identity: z.string() }).nullable().default(null),
});

/** A parsed sidecar config. */
export type SidecarConfig = z.output<typeof sidecarConfigSchema>;

/** What stands for a private key wherever a config is shown to someone other than its pod. */
export const REDACTED_KEY = '(redacted)';

/**
 * The config as it may be shown outside its pod (the sidecar's admin `/config`, the runtime's config API
 * to other clients, `meshlet inspect`): the private key replaced by `REDACTED_KEY`, the rest unchanged.
 */
export function withoutPrivateKey<C extends { tls: { keyPem: string } | null }>(config: C): C {
  return config.tls === null ? config : { ...config, tls: { ...config.tls, keyPem: REDACTED_KEY } };
}
/** What may be written in a config file or sent by the runtime (defaults filled in on parse). */
export type SidecarConfigInput = z.input<typeof sidecarConfigSchema>;

/**
 * Paths of the runtime's config API on `<bridge ip>:15010` (read-only).
 * - `GET /v1/pods/<pod>/config` → the pod's `SidecarConfig` as JSON, `ETag: "<revision>"`.
 * - `GET /v1/pods/<pod>/config?watch=1` → `text/event-stream`; an `event: config` with the JSON config
 *   at once and after every change (within a second of it); comments (`: ping`) every 15 s keep it open.
 */
export const CONFIG_API = Object.freeze({
  podConfigPath: (pod: string) => `/v1/pods/${encodeURIComponent(pod)}/config`,
  watchQuery: 'watch=1',
  event: 'config',
});

/** The SPIFFE id of a service: `spiffe://<mesh>/svc/<service>`. */
export function spiffeId(mesh: string, service: string): string {
  return `spiffe://${mesh}/svc/${service}`;
}
