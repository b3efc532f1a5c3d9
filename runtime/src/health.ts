// Health checks: the status machine (pure, Docker's rules) and the probes (HTTP from the prober
// address straight to the app port, or a command run inside the container).
//
//   starting ──ok──► healthy ──`retries` failures in a row──► unhealthy ──ok──► healthy
//   (failures inside start_period do not count; the first success ends the start period)
import { request } from 'node:http';
import type { HealthStatus, ServiceSpec } from '@meshlet/wire';

export type HealthSpec = NonNullable<ServiceSpec['health']>;

export interface HealthState {
  status: HealthStatus;
  failures: number;
  detail: string;
  /** When the app started; the start period counts from here. */
  sinceMs: number;
  /** Set once a probe has succeeded (ends the start period early). */
  everHealthy: boolean;
}

export function initialHealth(spec: HealthSpec | undefined, nowMs: number): HealthState {
  return { status: spec === undefined ? 'none' : 'starting', failures: 0, detail: '', sinceMs: nowMs, everHealthy: false };
}

/** The state after one probe result. `changed` when the status flipped. */
export function nextHealth(state: HealthState, spec: HealthSpec, result: { ok: boolean; detail: string }, nowMs: number): HealthState & { changed: boolean } {
  if (result.ok) {
    return { status: 'healthy', failures: 0, detail: result.detail, sinceMs: state.sinceMs, everHealthy: true, changed: state.status !== 'healthy' };
  }
  const inStartPeriod = !state.everHealthy && nowMs - state.sinceMs < spec.startPeriodMs;
  const failures = inStartPeriod ? 0 : state.failures + 1;
  const status: HealthStatus = failures >= spec.retries ? 'unhealthy' : state.status;
  return { status, failures, detail: result.detail, sinceMs: state.sinceMs, everHealthy: state.everHealthy, changed: status !== state.status };
}

/** Result of one probe. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/**
 * GET `http://host:port<path>` with the given local address, ok on 2xx/3xx. Never throws.
 * @example await httpProbe({ host: '10.77.0.5', port: 8080, path: '/healthz', localAddress: '10.77.255.254', timeoutMs: 2000 })
 */
export function httpProbe(o: { host: string; port: number; path: string; localAddress?: string; timeoutMs: number }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(
      { host: o.host, port: o.port, path: o.path, method: 'GET', timeout: o.timeoutMs, agent: false, headers: { 'user-agent': 'meshlet-health/1', connection: 'close' }, ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 400, detail: `HTTP ${status} from ${o.path}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, detail: `${o.path}: ${err.code ?? err.message}` }));
    req.end();
  });
}

/** TCP connect check for services with a port and no health check: ready once the app listens. */
export function tcpProbe(o: { host: string; port: number; localAddress?: string; timeoutMs: number }): Promise<ProbeResult> {
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolve) => {
        const socket = connect({ host: o.host, port: o.port, timeout: o.timeoutMs, ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) });
        socket.once('connect', () => {
          socket.destroy();
          resolve({ ok: true, detail: `port ${o.port} open` });
        });
        socket.once('timeout', () => {
          socket.destroy();
          resolve({ ok: false, detail: `port ${o.port}: timeout` });
        });
        socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, detail: `port ${o.port}: ${err.code ?? err.message}` }));
      }),
  );
}
