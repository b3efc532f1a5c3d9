import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planLoadTest, ratePhases } from './plan.ts';
import { validateScenario, type LoadTest, type ScenarioFile } from './scenario.ts';

function loadTest(options: NonNullable<ScenarioFile['options']>): LoadTest {
  const result = validateScenario({ name: 't', requests: [{ name: 'r', path: '/' }], options }, { userAgent: 'test' });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.test;
}

test('a rate is spread over phases 1/N s apart whose quotas add up exactly', () => {
  const phases = ratePhases(150, 3000, 10);
  assert.equal(phases.length, 10);
  assert.deepEqual(phases.map((p) => p.offsetMs), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  assert.equal(phases.reduce((n, p) => n + p.requests, 0), 150);
  assert.equal(phases.reduce((n, p) => n + (p.ratePerSecond ?? 0), 0), 50);
  for (const p of phases) assert.ok(p.connections >= 1 && p.connections <= p.requests);
});

test('phases never use more connections than allowed', () => {
  const phases = ratePhases(1000, 1000, 3);
  assert.equal(phases.length, 3);
  assert.equal(phases.reduce((n, p) => n + p.connections, 0), 3);
  assert.equal(phases.reduce((n, p) => n + p.requests, 0), 1000);
});

test('below one request a second, each request gets its own evenly spaced phase', () => {
  const phases = ratePhases(3, 6000, 10);
  assert.deepEqual(phases, [
    { offsetMs: 0, connections: 1, ratePerSecond: 1, requests: 1 },
    { offsetMs: 2000, connections: 1, ratePerSecond: 1, requests: 1 },
    { offsetMs: 4000, connections: 1, ratePerSecond: 1, requests: 1 },
  ]);
  assert.deepEqual(ratePhases(0, 1000, 10), []);
});

test('constant-arrival-rate plans rate × duration requests, timeUnit included', () => {
  const plan = planLoadTest(loadTest({ scenarios: { s: { executor: 'constant-arrival-rate', rate: 600, timeUnit: '1m', duration: '30s', preAllocatedVUs: 5 } } }), { maxRequests: 1e6 });
  assert.equal(plan.plannedRequests, 300); // 10/s for 30 s
  assert.equal(plan.durationMs, 30_000);
  assert.equal(plan.maxConnections, 5);
});

test('a ramp becomes 1 s steps whose quotas follow the integral of the rate', () => {
  const plan = planLoadTest(
    loadTest({ scenarios: { r: { executor: 'ramping-arrival-rate', startRate: 0, preAllocatedVUs: 10, stages: [{ duration: '10s', target: 100 }, { duration: '5s', target: 100 }] } } }),
    { maxRequests: 1e6 },
  );
  const steps = plan.scenarios[0]?.steps ?? [];
  assert.equal(steps.length, 11); // ten ramp steps, one plateau
  assert.deepEqual(steps.slice(0, 3).map((s) => s.plannedRequests), [5, 15, 25]);
  assert.equal(steps.at(-1)?.plannedRequests, 500);
  assert.equal(plan.plannedRequests, 500 + 500);
  assert.equal(steps.at(-1)?.startMs, 10_000);
});

test('ramping-vus keeps connections open across steps with the same VUs', () => {
  const plan = planLoadTest(loadTest({ scenarios: { v: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '2s', target: 4 }, { duration: '3s', target: 4 }, { duration: '1s', target: 0 }] } } }), { maxRequests: 1e6 });
  const steps = plan.scenarios[0]?.steps ?? [];
  // VUs at each step's middle: 1 and 3 while ramping to 4, 4 held for 3 s in one step, 2 on the way down.
  assert.deepEqual(steps.map((s) => [s.startMs, s.endMs, s.phases[0]?.connections]), [[0, 1000, 1], [1000, 2000, 3], [2000, 5000, 4], [5000, 6000, 2]]);
  assert.equal(plan.maxConnections, 4);
});

test('scenarios start at their startTime; iterations executors hold their counts', () => {
  const plan = planLoadTest(
    loadTest({
      scenarios: {
        a: { executor: 'per-vu-iterations', vus: 3, iterations: 4 },
        b: { executor: 'shared-iterations', vus: 2, iterations: 7, startTime: '5s', maxDuration: '20s' },
      },
    }),
    { maxRequests: 1e6 },
  );
  const [a, b] = plan.scenarios;
  assert.deepEqual(a?.steps[0]?.phases, [{ offsetMs: 0, connections: 3, requests: 12 }]);
  assert.equal(b?.steps[0]?.startMs, 5000);
  assert.equal(b?.steps[0]?.endMs, 25_000);
  assert.deepEqual(b?.steps[0]?.phases, [{ offsetMs: 0, connections: 2, requests: 7 }]);
});

test('a plan beyond --max-requests is refused before any load', () => {
  const test = loadTest({ scenarios: { s: { executor: 'constant-arrival-rate', rate: 1000, duration: '1h', preAllocatedVUs: 5 } } });
  assert.throws(() => planLoadTest(test, { maxRequests: 1e6 }), { code: 'ERR_BENCH_TOO_MUCH_LOAD', exitCode: 104 });
});
