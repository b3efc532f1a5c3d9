// timeout: sets the deadline of the whole request (all attempts) from the route's or destination's
// timeout. forward turns the time left into undici's headers timeout for each attempt.
import type { Layer, ProxyRequest } from '../service.ts';

/** The request's deadline (`performance.now()` time): its route's or destination's timeout from its start. */
export function requestDeadlineMs(req: ProxyRequest): number {
  const ms = req.routeConfig?.timeoutMs ?? req.destination?.config.timeoutMs;
  return ms === undefined ? req.deadlineMs : Math.min(req.deadlineMs, req.startMs + ms);
}

export function timeout(): Layer {
  return (next) => (req) => {
    req.deadlineMs = requestDeadlineMs(req);
    return next(req);
  };
}
