// balance: picks the endpoint of this attempt from the destination's balancer (P2C over peak-EWMA,
// outlier ejection) and reports the outcome back to it. Sits below retry so each retry picks anew.
import { MeshError, toMeshError } from '../errors.ts';
import type { Endpoint } from '../balance.ts';
import type { Layer } from '../service.ts';

/** Failures that say something about the endpoint (not about the request or the client). */
const ENDPOINT_FAILURES = new Set(['connect_refused', 'connect_timeout', 'upstream_reset', 'request_timeout']);
/** Of those, the ones where the endpoint could not be reached at all (the rest: it was too slow). */
const UNREACHABLE = new Set(['connect_refused', 'connect_timeout', 'upstream_reset']);

export function balance(): Layer {
  return (next) => async (req) => {
    const dest = req.destination;
    if (dest === null) throw new Error('balance: no destination (route must run first)');
    const endpoint: Endpoint = dest.balancer.pick(req.version);
    req.target = endpoint;
    req.endpoint = endpoint.address;
    const startMs = performance.now();
    try {
      const res = await next(req);
      dest.balancer.release(endpoint, res.status < 500, performance.now() - startMs, 'degraded');
      return res;
    } catch (err) {
      const mesh = toMeshError(err, dest.name, endpoint.address);
      // Injected faults say nothing about the endpoint: neither an abort nor the timeout a delay caused.
      const injected = (mesh instanceof MeshError && mesh.faultInjected) || (req.faultDelayed && mesh.reason === 'request_timeout');
      if (req.aborted || !ENDPOINT_FAILURES.has(mesh.reason) || injected) dest.balancer.cancel(endpoint);
      else dest.balancer.release(endpoint, false, null, UNREACHABLE.has(mesh.reason) ? 'unreachable' : 'degraded');
      throw mesh;
    }
  };
}
