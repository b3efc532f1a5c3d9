// The outbound routing table compiled from a config revision: destination by Host name or VIP:port,
// each with its balancer and retry budget. Balancers and budgets live across revisions (by name), so
// a config change (a traffic split, a new endpoint) keeps latency, ejection and budget state.
import { spiffeId, type DestinationConfig, type SidecarConfig } from '@meshlet/wire';
import type { Pool } from 'undici';
import { Balancer, type BalancerDeps } from './balance.ts';
import type { Pools } from './pools.ts';
import { RetryBudget } from './retry-budget.ts';

export interface Destination {
  readonly name: string;
  readonly config: DestinationConfig;
  readonly balancer: Balancer;
  readonly budget: RetryBudget;
}

export interface RoutingTable {
  readonly byName: ReadonlyMap<string, Destination>;
  /** `vip:port` and bare `vip` → destination. */
  readonly byVip: ReadonlyMap<string, Destination>;
  /** Every pool in use, so the others can be retired. */
  readonly pools: ReadonlySet<Pool>;
}

/** Keeps balancers and budgets across revisions and compiles each revision into a RoutingTable. */
export class Destinations {
  private readonly balancers = new Map<string, Balancer>();
  private readonly budgets = new Map<string, RetryBudget>();
  private readonly deps: BalancerDeps;
  private readonly pools: Pools;

  constructor(pools: Pools, deps: BalancerDeps) {
    this.pools = pools;
    this.deps = deps;
  }

  compile(config: SidecarConfig): RoutingTable {
    const byName = new Map<string, Destination>();
    const byVip = new Map<string, Destination>();
    const pools = new Set<Pool>();
    for (const [name, dest] of Object.entries(config.destinations)) {
      let balancer = this.balancers.get(name);
      if (balancer === undefined) {
        balancer = new Balancer(name, dest.outlier, this.deps);
        this.balancers.set(name, balancer);
      }
      // Under mTLS the endpoints must prove the destination's identity.
      const identity = config.tls === null ? null : (dest.identity ?? spiffeId(config.mesh, name));
      balancer.update(dest.endpoints, dest.outlier, (a) => {
        const pool = this.pools.get(a, identity);
        pools.add(pool);
        return pool;
      });
      let budget = this.budgets.get(name);
      if (budget === undefined) {
        budget = new RetryBudget(dest.retryBudget, this.deps.now);
        this.budgets.set(name, budget);
      } else budget.update(dest.retryBudget);
      const d: Destination = { name, config: dest, balancer, budget };
      byName.set(name, d);
      if (dest.vip !== undefined) {
        byVip.set(dest.port === undefined ? dest.vip : `${dest.vip}:${dest.port}`, d);
        if (!byVip.has(dest.vip)) byVip.set(dest.vip, d);
      }
    }
    for (const name of this.balancers.keys()) {
      if (!byName.has(name)) {
        this.balancers.delete(name);
        this.budgets.delete(name);
      }
    }
    return { byName, byVip, pools };
  }

  /** Every balancer, for the metrics collected at scrape time. */
  each(): Iterable<[string, Balancer, RetryBudget]> {
    const out: [string, Balancer, RetryBudget][] = [];
    for (const [name, b] of this.balancers) out.push([name, b, this.budgets.get(name) as RetryBudget]);
    return out;
  }
}

/**
 * Finds the destination a request's authority names: `payments`, `payments:8080`,
 * `payments.<anything>` (first DNS label), `10.78.0.5:8080` or `[vip]` by VIP.
 */
export function resolveDestination(table: RoutingTable, authority: string): Destination | null {
  let host = authority;
  let port = '';
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    port = host.slice(end + 2);
    host = host.slice(1, end);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
  }
  host = host.toLowerCase();
  const byName = table.byName.get(host);
  if (byName !== undefined) return byName;
  const vip = table.byVip.get(port === '' ? host : `${host}:${port}`) ?? table.byVip.get(host);
  if (vip !== undefined) return vip;
  const dot = host.indexOf('.');
  if (dot > 0 && !/^\d+\.\d+\.\d+\.\d+$/.test(host)) return table.byName.get(host.slice(0, dot)) ?? null;
  return null;
}
