// The balancer of one destination: power of two choices over peak-EWMA latency (Linkerd's default),
// with outlier ejection after consecutive failures and passive recovery probes: when an ejection
// expires the endpoint takes exactly one request; success restores it, failure ejects it again for
// longer (base × times ejected). No candidates: `no_endpoints`; all ejected: `circuit_open`.
import type { EndpointConfig, OutlierConfig } from '@meshlet/wire';
import { MeshError } from './errors.ts';
import type { Target } from './service.ts';

/** Decay time of the latency average (Linkerd uses 10 s). */
const EWMA_DECAY_MS = 10_000;
/** Latency assumed for an endpoint never measured, so new endpoints get traffic but not all of it. */
const DEFAULT_RTT_MS = 5;
/** A failure counts as a slow response of at least this much, so P2C steers away from failing endpoints before ejection. */
const FAILURE_PENALTY_MS = 100;

export class Endpoint implements Target {
  readonly address: string;
  pool: Target['pool'];
  version: string | null;
  pod: string | null;
  ready: boolean;
  ewmaMs = DEFAULT_RTT_MS;
  lastSampleMs: number;
  pending = 0;
  consecutiveFailures = 0;
  /** 0 when not ejected. */
  ejectedUntilMs = 0;
  timesEjected = 0;
  probing = false;

  constructor(config: EndpointConfig, pool: Target['pool'], nowMs: number) {
    this.address = config.address;
    this.pool = pool;
    this.version = config.version ?? null;
    this.pod = config.pod ?? null;
    this.ready = config.ready;
    this.lastSampleMs = nowMs;
  }

  /** Peak-EWMA cost: the decayed latency estimate weighted by requests in flight. */
  cost(nowMs: number): number {
    const elapsed = nowMs - this.lastSampleMs;
    const ewma = elapsed > 0 ? this.ewmaMs * Math.exp(-elapsed / EWMA_DECAY_MS) : this.ewmaMs;
    return Math.max(ewma, 0.001) * (this.pending + 1);
  }

  sample(rttMs: number, nowMs: number): void {
    if (rttMs > this.ewmaMs) {
      // Peak: a slow response takes effect at once; recovery decays.
      this.ewmaMs = rttMs;
    } else {
      const w = Math.exp(-(nowMs - this.lastSampleMs) / EWMA_DECAY_MS);
      this.ewmaMs = this.ewmaMs * w + rttMs * (1 - w);
    }
    this.lastSampleMs = nowMs;
  }
}

export interface BalancerDeps {
  now: () => number;
  random: () => number;
  onEject: (endpoint: Endpoint, service: string) => void;
}

export class Balancer {
  readonly service: string;
  private endpoints: Endpoint[] = [];
  private outlier: OutlierConfig;
  private readonly deps: BalancerDeps;

  constructor(service: string, outlier: OutlierConfig, deps: BalancerDeps) {
    this.service = service;
    this.outlier = outlier;
    this.deps = deps;
  }

  /** Applies a new endpoint list; state (latency, ejections) of addresses kept is preserved. */
  update(configs: readonly EndpointConfig[], outlier: OutlierConfig, poolFor: (address: string) => Target['pool']): void {
    this.outlier = outlier;
    const old = new Map(this.endpoints.map((e) => [e.address, e]));
    const now = this.deps.now();
    this.endpoints = configs.map((c) => {
      const existing = old.get(c.address);
      if (existing === undefined) return new Endpoint(c, poolFor(c.address), now);
      existing.version = c.version ?? null;
      existing.pod = c.pod ?? null;
      existing.ready = c.ready;
      existing.pool = poolFor(c.address);
      return existing;
    });
  }

  all(): readonly Endpoint[] {
    return this.endpoints;
  }

  /** Versions that have at least one ready endpoint. */
  readyVersions(): Set<string | null> {
    const out = new Set<string | null>();
    for (const e of this.endpoints) if (e.ready) out.add(e.version);
    return out;
  }

  ejectedCount(nowMs = this.deps.now()): number {
    let n = 0;
    for (const e of this.endpoints) if (e.ejectedUntilMs > nowMs) n++;
    return n;
  }

  /**
   * Picks an endpoint (of `version` when given). Throws `no_endpoints` when none is ready,
   * `circuit_open` when all ready ones are ejected (and none is due for a probe).
   */
  pick(version: string | null): Endpoint {
    const now = this.deps.now();
    let a: Endpoint | null = null;
    let b: Endpoint | null = null;
    let seen = 0;
    let ready = 0;
    // Reservoir-sample two distinct candidates in one pass, without allocating a candidate list.
    for (const e of this.endpoints) {
      if (!e.ready || (version !== null && e.version !== version)) continue;
      ready++;
      if (e.ejectedUntilMs !== 0) {
        if (e.ejectedUntilMs > now || e.probing) continue;
        // Ejection over: this endpoint may take one probe request.
      }
      seen++;
      if (seen === 1) a = e;
      else if (seen === 2) b = e;
      else {
        const r = Math.floor(this.deps.random() * seen);
        if (r === 0) a = e;
        else if (r === 1) b = e;
      }
    }
    if (a === null) {
      if (ready === 0) {
        throw new MeshError('no_endpoints', `${this.service} has no ready endpoint${version === null ? '' : ` of version ${version}`}`, { service: this.service });
      }
      throw new MeshError('circuit_open', `every endpoint of ${this.service} is ejected after consecutive failures`, { service: this.service });
    }
    let chosen = a;
    if (b !== null && b.cost(now) < a.cost(now)) chosen = b;
    if (chosen.ejectedUntilMs !== 0) chosen.probing = true;
    chosen.pending++;
    return chosen;
  }

  /**
   * Records the outcome of a request sent to `endpoint` (failure: connection failure, timeout or 5xx).
   * `failure` says how it failed: `unreachable` (connection refused, reset, not established) or
   * `degraded` (it answered with a 5xx, or too slowly). A degraded endpoint is never ejected when it is
   * the last one available for its version: ejecting it would turn a partial or slow failure into a
   * total one (`circuit_open` for every request until the ejection ends, even after it recovered) —
   * Envoy's panic threshold keeps routing to such hosts for the same reason. A lone unreachable
   * endpoint is still ejected, so it fails fast.
   */
  release(endpoint: Endpoint, ok: boolean, rttMs: number | null, failure: 'unreachable' | 'degraded' = 'unreachable'): void {
    const now = this.deps.now();
    endpoint.pending--;
    if (rttMs !== null) endpoint.sample(rttMs, now);
    if (ok) {
      endpoint.consecutiveFailures = 0;
      if (endpoint.ejectedUntilMs !== 0) {
        // The recovery probe succeeded.
        endpoint.ejectedUntilMs = 0;
        endpoint.probing = false;
        endpoint.timesEjected = 0;
      }
      return;
    }
    endpoint.consecutiveFailures++;
    endpoint.sample(Math.max(endpoint.ewmaMs * 2, FAILURE_PENALTY_MS), now);
    const lastAvailable = failure === 'degraded' && !this.othersAvailable(endpoint, now);
    if (endpoint.probing) {
      endpoint.probing = false;
      if (!lastAvailable) this.eject(endpoint, now);
      else endpoint.ejectedUntilMs = 0; // it answers, and nothing else can take its traffic: back in rotation
      return;
    }
    if (lastAvailable) return;
    if (endpoint.ejectedUntilMs === 0 && endpoint.consecutiveFailures >= this.outlier.consecutiveFailures) {
      const readyCount = this.endpoints.reduce((n, e) => n + (e.ready ? 1 : 0), 0);
      // At least one endpoint may always be ejected, so a lone dead endpoint fails fast.
      const maxEjected = Math.max(1, Math.floor((readyCount * this.outlier.maxEjectionPercent) / 100));
      if (this.ejectedCount(now) < maxEjected) this.eject(endpoint, now);
    }
  }

  /** Whether another ready endpoint of `endpoint`'s version is not ejected. */
  private othersAvailable(endpoint: Endpoint, now: number): boolean {
    for (const e of this.endpoints) if (e !== endpoint && e.ready && e.version === endpoint.version && e.ejectedUntilMs <= now) return true;
    return false;
  }

  /** The request was cancelled before an outcome: only the in-flight count changes. */
  cancel(endpoint: Endpoint): void {
    endpoint.pending--;
    endpoint.probing = false;
  }

  private eject(endpoint: Endpoint, now: number): void {
    endpoint.timesEjected++;
    endpoint.ejectedUntilMs = now + this.outlier.baseEjectionMs * endpoint.timesEjected;
    endpoint.consecutiveFailures = 0;
    this.deps.onEject(endpoint, this.service);
  }
}
