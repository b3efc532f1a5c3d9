// Builds each sidecar's config (wire's `SidecarConfig`) from the spec and the live state of the mesh:
// endpoints with readiness, VIPs, traffic weights changed at run time, faults switched on or off.
// Pure; the config server serves what this returns and pushes it when it changes.
import {
  SIDECAR_ADMIN_PORT,
  SIDECAR_INBOUND_PORT,
  SIDECAR_OUTBOUND_PORT,
  sidecarConfigSchema,
  spiffeId,
  type FaultSpec,
  type MeshSpec,
  type RouteSpec,
  type ServiceSpec,
  type SidecarConfig,
  type SidecarConfigInput,
} from '@meshlet/wire';

/** A pod as the config builder sees it. */
export interface PodView {
  name: string;
  service: string;
  version: string | undefined;
  ip: string;
  /** In the balancer's rotation: sidecar ready, app up, health not failing. */
  ready: boolean;
}

/** Run-time changes layered over the spec. */
export interface LiveOverrides {
  /** `meshlet traffic svc blue=10 green=90`. */
  traffic: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** `meshlet fault svc name on|off`: fault key → enabled. */
  faults: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

export interface ConfigContext {
  spec: MeshSpec;
  pods: readonly PodView[];
  vips: Readonly<Record<string, string>>;
  overrides: LiveOverrides;
  /** OTLP/HTTP base URL, or null when telemetry is off. */
  collectorUrl: string | null;
  isolation: 'netns' | 'process';
  /**
   * Under `mtls: true`: the mesh CA and each pod's current leaf (see mesh-ca.ts). Every pod of an
   * mTLS mesh must have one; its sidecar gets it as `tls`.
   */
  tls?: { caPem: string; leaves: ReadonlyMap<string, { certPem: string; keyPem: string; identity: string }> };
}

/** The key a fault is switched by: its name, or `fault-<n>` (1-based) when unnamed. */
export function faultKey(fault: FaultSpec, index: number): string {
  return fault.name ?? `fault-${index + 1}`;
}

/** Whether a fault is on: the run-time switch wins over the spec's `enabled`. */
export function faultEnabled(ctx: Pick<ConfigContext, 'overrides'>, service: string, fault: FaultSpec, index: number): boolean {
  return ctx.overrides.faults[service]?.[faultKey(fault, index)] ?? fault.enabled;
}

const retryOf = (r: NonNullable<ServiceSpec['retries']>) => ({
  maxRetries: r.attempts,
  ...(r.retryOn === undefined ? {} : { retryOn: r.retryOn }),
  retryNonIdempotent: r.retryNonIdempotent,
  ...(r.perTryTimeoutMs === undefined ? {} : { perTryTimeoutMs: r.perTryTimeoutMs }),
});

const matchOf = (m: RouteSpec['match']) =>
  Object.fromEntries(Object.entries({ path: m.path, pathPrefix: m.pathPrefix, method: m.method, headers: m.headers }).filter(([, v]) => v !== undefined));

function tlsOf(ctx: ConfigContext, pod: PodView): NonNullable<SidecarConfigInput['tls']> {
  const leaf = ctx.tls?.leaves.get(pod.name);
  // The mesh issues a pod's leaf before the pod exists; a pod without one is a bug, not bad input.
  if (ctx.tls === undefined || leaf === undefined) throw new Error(`mtls: pod ${pod.name} has no certificate`);
  return { certPem: leaf.certPem, keyPem: leaf.keyPem, caPem: ctx.tls.caPem, identity: leaf.identity };
}

/**
 * The config of one pod's sidecar (without `revision`, which the server assigns).
 * @example buildSidecarConfig(ctx, ctx.pods[0]).destinations.payments.endpoints
 * // [{ address: '10.77.0.3:15006', version: undefined, pod: 'payments-1', ready: true }]
 */
export function buildSidecarConfig(ctx: ConfigContext, pod: PodView): SidecarConfig {
  const { spec } = ctx;
  const self = spec.services[pod.service];
  if (self === undefined) throw new Error(`pod ${pod.name} of unknown service ${pod.service}`);
  const processMode = ctx.isolation === 'process';
  const listenHost = processMode ? pod.ip : '0.0.0.0';
  const destinations: NonNullable<SidecarConfigInput['destinations']> = {};
  for (const [name, svc] of Object.entries(spec.services)) {
    destinations[name] = {
      ...(processMode || ctx.vips[name] === undefined ? {} : { vip: ctx.vips[name] }),
      ...(svc.port === undefined ? {} : { port: svc.port }),
      endpoints: ctx.pods
        .filter((p) => p.service === name)
        .map((p) => ({ address: `${p.ip}:${SIDECAR_INBOUND_PORT}`, ...(p.version === undefined ? {} : { version: p.version }), pod: p.name, ready: p.ready })),
      ...(svc.timeoutMs === undefined ? {} : { timeoutMs: svc.timeoutMs }),
      ...(svc.retries === undefined ? {} : { retry: retryOf(svc.retries) }),
      ...(svc.outlier === undefined ? {} : { outlier: svc.outlier }),
      ...(ctx.overrides.traffic[name] ?? svc.traffic) === undefined ? {} : { traffic: { ...(ctx.overrides.traffic[name] ?? svc.traffic) } },
      routes: svc.routes.map((r, i) => ({
        name: r.name ?? `route-${i + 1}`,
        match: matchOf(r.match),
        ...(r.timeoutMs === undefined ? {} : { timeoutMs: r.timeoutMs }),
        ...(r.retries === undefined ? {} : { retry: retryOf(r.retries) }),
        ...(r.traffic === undefined ? {} : { traffic: { ...r.traffic } }),
      })),
      faults: svc.faults.flatMap((f, i) =>
        faultEnabled(ctx, name, f, i)
          ? [{ name: faultKey(f, i), ...(f.match === undefined ? {} : { match: matchOf(f.match) }), ...(f.delay === undefined ? {} : { delay: f.delay }), ...(f.abort === undefined ? {} : { abort: f.abort }) }]
          : [],
      ),
      ...(spec.mtls ? { identity: spiffeId(spec.name, name) } : {}),
    };
  }
  const input: SidecarConfigInput = {
    mesh: spec.name,
    service: pod.service,
    ...(pod.version === undefined ? {} : { serviceVersion: pod.version }),
    pod: pod.name,
    podIp: pod.ip,
    listen: {
      inbound: `${listenHost}:${SIDECAR_INBOUND_PORT}`,
      outbound: `${processMode ? pod.ip : '127.0.0.1'}:${SIDECAR_OUTBOUND_PORT}`,
      admin: `${listenHost}:${SIDECAR_ADMIN_PORT}`,
    },
    app: self.port === undefined ? null : `${processMode ? pod.ip : '127.0.0.1'}:${self.port}`,
    appProtocol: self.protocol,
    collector: ctx.collectorUrl,
    testMode: spec.testMode,
    inbound: {
      ...(self.policy?.allow === undefined ? {} : { allow: [...self.policy.allow] }),
      deny: [...(self.policy?.deny ?? [])],
      ...(self.policy?.rateLimit === undefined ? {} : { rateLimit: self.policy.rateLimit }),
      faults: [],
    },
    destinations,
    tls: spec.mtls ? tlsOf(ctx, pod) : null,
  };
  return sidecarConfigSchema.parse(input);
}
