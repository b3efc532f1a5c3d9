// route: finds the destination the app addressed (Host, absolute-form authority, or VIP:port after an
// iptables redirect), the first matching route of that destination, and for a traffic split the
// version this request goes to. The table is read once per request, so a new config revision applies
// to the next request while requests in flight finish on the one they started with.
import type { MatchConfig } from '@meshlet/wire';
import { MeshError } from '../errors.ts';
import { resolveDestination, type RoutingTable } from '../destinations.ts';
import { routeTemplate } from '../telemetry/label-budget.ts';
import type { HeaderMap, Layer } from '../service.ts';

/** True when the request matches every field given in `match`. */
export function matches(match: MatchConfig, method: string, path: string, headers: HeaderMap): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.path !== undefined || match.pathPrefix !== undefined) {
    const q = path.indexOf('?');
    const p = q === -1 ? path : path.slice(0, q);
    if (match.path !== undefined && p !== match.path) return false;
    if (match.pathPrefix !== undefined && !p.startsWith(match.pathPrefix)) return false;
  }
  if (match.headers !== undefined) {
    for (const [name, want] of Object.entries(match.headers)) {
      const got = headers[name];
      if ((Array.isArray(got) ? got.join(', ') : got) !== want) return false;
    }
  }
  return true;
}

/** Picks a version by weight among those that have ready endpoints; null when the split has none. */
export function pickVersion(weights: Readonly<Record<string, number>>, available: ReadonlySet<string | null>, random: () => number): string | null {
  let total = 0;
  for (const [version, w] of Object.entries(weights)) if (w > 0 && available.has(version)) total += w;
  if (total === 0) return null;
  let r = random() * total;
  let last: string | null = null;
  for (const [version, w] of Object.entries(weights)) {
    if (w <= 0 || !available.has(version)) continue;
    last = version;
    r -= w;
    if (r < 0) return version;
  }
  return last;
}

export function route(table: () => RoutingTable, random: () => number): Layer {
  return (next) => (req) => {
    const dest = resolveDestination(table(), req.authority);
    if (dest === null) {
      const host = req.authority === '' ? '(no Host header)' : req.authority;
      return Promise.reject(new MeshError('unknown_service', `no service in the mesh is called ${host}`, { service: null }));
    }
    req.destination = dest;
    req.service = dest.name;
    req.route = routeTemplate(req.path);
    let traffic = dest.config.traffic;
    for (const r of dest.config.routes) {
      if (matches(r.match, req.method, req.path, req.incomingHeaders)) {
        req.routeConfig = r;
        req.route = r.name;
        if (r.traffic !== undefined) traffic = r.traffic;
        break;
      }
    }
    if (traffic !== undefined) {
      const version = pickVersion(traffic, dest.balancer.readyVersions(), random);
      if (version === null) {
        return Promise.reject(
          new MeshError('no_endpoints', `${dest.name} has no ready endpoint in the versions of its traffic split (${Object.keys(traffic).join(', ')})`, { service: dest.name }),
        );
      }
      req.version = version;
    }
    return next(req);
  };
}
