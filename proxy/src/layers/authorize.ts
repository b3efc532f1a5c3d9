// authorize (inbound): lets a caller in only when the policy allows it — `deny` wins over `allow`,
// entries are service names or SPIFFE ids — and within the inbound rate limit (a token bucket).
import type { SidecarConfig } from '@meshlet/wire';
import { MeshError } from '../errors.ts';
import type { Layer, ProxyRequest } from '../service.ts';

export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  private readonly rps: number;
  private readonly burst: number;
  private readonly now: () => number;
  constructor(rps: number, burst: number, now: () => number) {
    this.rps = rps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.lastMs = now();
  }
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) / 1000) * this.rps);
    this.lastMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The caller's names to match policy entries against: its SPIFFE id (mTLS) and its service name. */
export type CallerIdentity = (req: ProxyRequest) => { service: string | null; spiffe: string | null };

export function authorize(config: () => SidecarConfig, identity: CallerIdentity, bucket: () => TokenBucket | null): Layer {
  return (next) => (req) => {
    const policy = config().inbound;
    if (policy.allow !== undefined || policy.deny.length > 0) {
      const who = identity(req);
      const names = [who.service, who.spiffe].filter((n): n is string => n !== null);
      const caller = who.spiffe ?? who.service ?? 'an unidentified caller';
      if (names.some((n) => policy.deny.includes(n))) {
        return Promise.reject(new MeshError('denied', `${caller} is denied by the inbound policy of ${req.service ?? 'this service'}`, { service: req.service }));
      }
      if (policy.allow !== undefined && !names.some((n) => policy.allow?.includes(n))) {
        return Promise.reject(new MeshError('denied', `${caller} is not in the allow list of ${req.service ?? 'this service'}`, { service: req.service }));
      }
    }
    const limiter = bucket();
    if (limiter !== null && !limiter.take()) {
      return Promise.reject(new MeshError('rate_limited', `${req.service ?? 'this service'} accepts at most ${policy.rateLimit?.rps ?? 0} requests/s`, { service: req.service }));
    }
    return next(req);
  };
}
