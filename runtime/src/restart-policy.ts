// When to restart an app and how long to wait first. Pure.
import type { ServiceSpec } from '@meshlet/wire';

export type RestartReason = 'exit' | 'unhealthy' | 'oom' | 'manual';

/** Backoff: 250 ms doubling per consecutive failure, at most 30 s (Docker starts at 100 ms, Kubernetes at 10 s). */
export const BACKOFF_BASE_MS = 250;
export const BACKOFF_MAX_MS = 30_000;
/** A run this long resets the backoff (Docker uses 10 s too). */
export const BACKOFF_RESET_AFTER_MS = 10_000;

export function backoffMs(consecutive: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, consecutive));
}

/**
 * Whether to start the app again after it ended.
 * - `unhealthy`: restarted when the health check says so (`health.restart`, default true), whatever the policy.
 * - `exit`/`oom`: by policy: `always`; `on-failure` when the code is not 0, at most N times; `no` never.
 * @example shouldRestart({ policy: 'on-failure', maxRetries: 3 }, { reason: 'exit', exitCode: 1 }, 3, true) // false
 */
export function shouldRestart(
  policy: ServiceSpec['restart'],
  ended: { reason: RestartReason; exitCode: number | null },
  restartsSoFar: number,
  restartOnUnhealthy: boolean,
): boolean {
  if (ended.reason === 'manual') return true;
  if (ended.reason === 'unhealthy') return restartOnUnhealthy;
  switch (policy.policy) {
    case 'always':
      return true;
    case 'no':
      return false;
    case 'on-failure':
      return ended.exitCode !== 0 && (policy.maxRetries === undefined || restartsSoFar < policy.maxRetries);
  }
}
