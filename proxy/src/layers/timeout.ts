// timeout: sets the deadline of the whole request (all attempts) from the route's or destination's
// timeout. forward turns the time left into undici's headers timeout for each attempt.
import type { Layer } from '../service.ts';

export function timeout(): Layer {
  return (next) => (req) => {
    const ms = req.routeConfig?.timeoutMs ?? req.destination?.config.timeoutMs;
    if (ms !== undefined) req.deadlineMs = Math.min(req.deadlineMs, req.startMs + ms);
    return next(req);
  };
}
