import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpProbe, initialHealth, nextHealth, tcpProbe, type HealthSpec } from './health.ts';
import { backoffMs, shouldRestart } from './restart-policy.ts';

const spec: HealthSpec = { http: '/h', command: undefined, intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 5000, restartOnUnhealthy: true };
const ok = { ok: true, detail: 'HTTP 200' };
const bad = { ok: false, detail: 'HTTP 500' };

test('failures inside the start period do not count; the first success ends it', () => {
  let h = initialHealth(spec, 0);
  assert.equal(h.status, 'starting');
  for (const t of [1000, 2000, 3000, 4000]) h = nextHealth(h, spec, bad, t);
  assert.equal(h.status, 'starting');
  assert.equal(h.failures, 0);
  const healthy = nextHealth(h, spec, ok, 4500);
  assert.equal(healthy.status, 'healthy');
  assert.equal(healthy.changed, true);
});

test('`retries` failures in a row make it unhealthy; one success heals it', () => {
  let h = nextHealth(initialHealth(spec, 0), spec, ok, 100);
  h = nextHealth(h, spec, bad, 1100);
  h = nextHealth(h, spec, bad, 2100);
  assert.equal(h.status, 'healthy');
  h = nextHealth(h, spec, bad, 3100);
  assert.equal(h.status, 'unhealthy');
  assert.equal(h.changed, true);
  assert.equal(h.detail, 'HTTP 500');
  h = nextHealth(h, spec, ok, 4100);
  assert.equal(h.status, 'healthy');
  assert.equal(h.failures, 0);
});

test('after the start period, failures count even without a success', () => {
  let h = initialHealth(spec, 0);
  for (const t of [6000, 7000, 8000]) h = nextHealth(h, spec, bad, t);
  assert.equal(h.status, 'unhealthy');
});

test('no health check: status none', () => {
  assert.equal(initialHealth(undefined, 0).status, 'none');
});

test('HTTP and TCP probes against a real server', async (t) => {
  let status = 200;
  const server = createServer((_, res) => {
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  assert.deepEqual(await httpProbe({ host: '127.0.0.1', port, path: '/h', timeoutMs: 1000 }), { ok: true, detail: 'HTTP 200 from /h' });
  status = 503;
  assert.equal((await httpProbe({ host: '127.0.0.1', port, path: '/h', timeoutMs: 1000 })).ok, false);
  assert.equal((await tcpProbe({ host: '127.0.0.1', port, timeoutMs: 1000 })).ok, true);
  server.close();
  await new Promise((r) => setTimeout(r, 20));
  const refused = await httpProbe({ host: '127.0.0.1', port, path: '/h', timeoutMs: 1000 });
  assert.deepEqual(refused, { ok: false, detail: '/h: ECONNREFUSED' });
});

test('restart policies', () => {
  const exit = (exitCode: number) => ({ reason: 'exit' as const, exitCode });
  assert.equal(shouldRestart({ policy: 'no', maxRetries: undefined }, exit(1), 0, true), false);
  assert.equal(shouldRestart({ policy: 'always', maxRetries: undefined }, exit(0), 10, true), true);
  assert.equal(shouldRestart({ policy: 'on-failure', maxRetries: undefined }, exit(0), 0, true), false);
  assert.equal(shouldRestart({ policy: 'on-failure', maxRetries: 2 }, exit(1), 1, true), true);
  assert.equal(shouldRestart({ policy: 'on-failure', maxRetries: 2 }, exit(1), 2, true), false);
  assert.equal(shouldRestart({ policy: 'on-failure', maxRetries: undefined }, { reason: 'oom', exitCode: 137 }, 0, true), true);
  // Failing health restarts whatever the policy (unless health.restart: false).
  assert.equal(shouldRestart({ policy: 'no', maxRetries: undefined }, { reason: 'unhealthy', exitCode: null }, 0, true), true);
  assert.equal(shouldRestart({ policy: 'always', maxRetries: undefined }, { reason: 'unhealthy', exitCode: null }, 0, false), false);
});

test('backoff doubles and is capped', () => {
  assert.deepEqual([0, 1, 2, 3].map(backoffMs), [250, 500, 1000, 2000]);
  assert.equal(backoffMs(20), 30_000);
});
