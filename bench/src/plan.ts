// Turns k6 executors into a schedule autocannon can run: steps (time windows) made of phases
// (one autocannon instance each, with connections, a per-second budget and a request quota).
//
// autocannon paces a connection by a budget per wall-clock second: every connection sends its
// budget back to back when its second starts, then waits. One instance at 100 req/s therefore sends
// bursts of 100 once a second. To spread arrivals the way k6's arrival-rate executors do, a rate is
// split into N phases started 1/N s apart (N ≤ 10), each with 1/N of the budget:
//
//   rate 100/s, 10 phases:   |10 10 10 10 10 10 10 10 10 10|10 10 ...   (one burst every 100 ms)
//                            0s                            1s
//
// Every phase also gets a quota (`amount`): the requests the executor would start in its window, so
// a step never sends more than k6 would, whatever the server does. Ramps become 1 s steps whose
// quotas follow the integral of the rate, rounded on the cumulative count so they never drift.
import { BenchError } from './errors.ts';
import type { ExecutorSpec, LoadTest, ScenarioSpec, Stage } from './scenario.ts';

/** One autocannon instance. */
export interface Phase {
  /** When it starts, from the start of its step. */
  offsetMs: number;
  connections: number;
  /** Requests per second across its connections; absent for closed-model (VU) executors. */
  ratePerSecond?: number;
  /** Most requests it sends (autocannon `amount`). */
  requests: number;
}

/** A window of a scenario in which requests are started. */
export interface Step {
  /** From the start of the test. */
  startMs: number;
  endMs: number;
  phases: Phase[];
  /** Requests an arrival-rate executor means to start in this step; the shortfall is `dropped_iterations`. */
  plannedRequests?: number;
}

export interface ScenarioPlan {
  name: string;
  executor: ExecutorSpec['executor'];
  gracefulStopMs: number;
  steps: Step[];
  /** Most connections the scenario opens at once. */
  maxConnections: number;
}

export interface Plan {
  scenarios: ScenarioPlan[];
  /** When the last scenario's last step ends, from the start (graceful stops not included). */
  durationMs: number;
  /** Sum of the scenarios' connections: k6's `vus_max`. */
  maxConnections: number;
  /** Requests the arrival-rate executors plan; closed-model executors are bounded by `maxRequests`. */
  plannedRequests: number;
}

export interface PlanLimits {
  /** Most requests one run may send (every loop is bounded in count as well as in time). */
  maxRequests: number;
  /** Width of the steps a ramp is cut into. */
  rampStepMs?: number;
  /** Most phases a rate is spread over. */
  maxPhases?: number;
}

const DEFAULT_RAMP_STEP_MS = 1000;
const DEFAULT_MAX_PHASES = 10;
/** Most autocannon instances a plan may start; a rate below 1/s costs one per request. */
const MAX_PHASES_PER_PLAN = 100_000;

/**
 * Plans a load test.
 * @example
 * const plan = planLoadTest(test, { maxRequests: 1_000_000 });
 * plan.scenarios[0].steps[0].phases // [{ offsetMs: 0, connections: 1, ratePerSecond: 5, requests: 50 }, ...]
 */
export function planLoadTest(test: LoadTest, limits: PlanLimits): Plan {
  const rampStepMs = limits.rampStepMs ?? DEFAULT_RAMP_STEP_MS;
  const maxPhases = limits.maxPhases ?? DEFAULT_MAX_PHASES;
  const scenarios = test.scenarios.map((s) => planScenario(s, { maxRequests: limits.maxRequests, rampStepMs, maxPhases }));
  const plannedRequests = scenarios.reduce((sum, s) => sum + s.steps.reduce((n, step) => n + (step.plannedRequests ?? 0), 0), 0);
  if (plannedRequests > limits.maxRequests) {
    throw new BenchError(
      'ERR_BENCH_TOO_MUCH_LOAD',
      `the scenarios plan ${plannedRequests} requests, more than the limit of ${limits.maxRequests}; lower the rate or duration, or raise --max-requests`,
    );
  }
  const phases = scenarios.reduce((sum, s) => sum + s.steps.reduce((n, step) => n + step.phases.length, 0), 0);
  if (phases > MAX_PHASES_PER_PLAN) {
    throw new BenchError('ERR_BENCH_TOO_MUCH_LOAD', `the scenarios need ${phases} load generators, more than ${MAX_PHASES_PER_PLAN}; shorten the ramps`);
  }
  return {
    scenarios,
    durationMs: Math.max(0, ...scenarios.flatMap((s) => s.steps.map((step) => step.endMs))),
    maxConnections: scenarios.reduce((sum, s) => sum + s.maxConnections, 0),
    plannedRequests,
  };
}

interface Limits {
  maxRequests: number;
  rampStepMs: number;
  maxPhases: number;
}

function planScenario(scenario: ScenarioSpec, limits: Limits): ScenarioPlan {
  const run = scenario.run;
  const at = scenario.startMs;
  const plan = (steps: Step[], maxConnections: number): ScenarioPlan => ({
    name: scenario.name,
    executor: run.executor,
    gracefulStopMs: scenario.gracefulStopMs,
    steps: steps.filter((s) => s.phases.length > 0 || (s.plannedRequests ?? 0) > 0),
    maxConnections,
  });
  switch (run.executor) {
    case 'constant-arrival-rate': {
      const requests = Math.round((run.ratePerSecond * run.durationMs) / 1000);
      const step = { startMs: at, endMs: at + run.durationMs, plannedRequests: requests, phases: ratePhases(requests, run.durationMs, run.maxConnections, limits.maxPhases) };
      return plan([step], run.maxConnections);
    }
    case 'ramping-arrival-rate': {
      const steps: Step[] = [];
      let counted = 0; // requests planned so far (cumulative, rounded)
      let exact = 0; // requests the rate function integrates to so far
      for (const w of stageWindows(run.startRatePerSecond, run.stages, limits.rampStepMs)) {
        exact += ((w.valueAt(0) + w.valueAt(w.durationMs)) / 2) * (w.durationMs / 1000); // linear: the trapezoid is exact
        const requests = Math.round(exact) - counted;
        counted += requests;
        steps.push({ startMs: at + w.startMs, endMs: at + w.startMs + w.durationMs, plannedRequests: requests, phases: ratePhases(requests, w.durationMs, run.maxConnections, limits.maxPhases) });
      }
      return plan(steps, run.maxConnections);
    }
    case 'constant-vus':
      return plan([{ startMs: at, endMs: at + run.durationMs, phases: [{ offsetMs: 0, connections: run.vus, requests: Math.max(run.vus, limits.maxRequests) }] }], run.vus);
    case 'ramping-vus': {
      const steps: Step[] = [];
      let maxVus = run.startVus;
      for (const w of stageWindows(run.startVus, run.stages, limits.rampStepMs)) {
        // VUs at the middle of the step: the staircase crosses the line k6 ramps along.
        const n = Math.round(w.valueAt(w.durationMs / 2));
        maxVus = Math.max(maxVus, n);
        const previous = steps.at(-1);
        if (previous !== undefined && previous.endMs === at + w.startMs && (previous.phases[0]?.connections ?? 0) === n) {
          previous.endMs += w.durationMs; // same VUs as the step before: keep its connections open
        } else {
          steps.push({ startMs: at + w.startMs, endMs: at + w.startMs + w.durationMs, phases: n === 0 ? [] : [{ offsetMs: 0, connections: n, requests: Math.max(n, limits.maxRequests) }] });
        }
      }
      return plan(steps, maxVus);
    }
    case 'shared-iterations':
    case 'per-vu-iterations': {
      const requests = run.executor === 'shared-iterations' ? run.iterations : run.iterations * run.vus;
      const connections = Math.min(run.vus, requests);
      return plan([{ startMs: at, endMs: at + run.maxDurationMs, phases: [{ offsetMs: 0, connections, requests }] }], connections);
    }
  }
}

interface StageWindow {
  /** From the start of the scenario. */
  startMs: number;
  durationMs: number;
  /** The staged value (rate or VUs) `ms` into the window: k6 moves linearly from target to target. */
  valueAt(ms: number): number;
}

/** Cuts stages into windows: a plateau whole, a ramp in `stepMs` slices. */
function* stageWindows(start: number, stages: readonly Stage[], stepMs: number): Generator<StageWindow> {
  let t = 0;
  let from = start;
  for (const stage of stages) {
    const to = stage.target;
    const width = from === to ? stage.durationMs : stepMs;
    for (let s = 0; s < stage.durationMs; s += width) {
      const offset = s;
      const stageFrom = from;
      const stageMs = stage.durationMs;
      yield {
        startMs: t + s,
        durationMs: Math.min(width, stage.durationMs - s),
        valueAt: (ms) => stageFrom + ((to - stageFrom) * (offset + ms)) / stageMs,
      };
    }
    t += stage.durationMs;
    from = to;
  }
}

/**
 * Spreads `requests` over `durationMs` at an even rate using at most `maxConnections` connections.
 * At 1 req/s or more: N phases 1/N s apart sharing the per-second budget. Below 1 req/s: one
 * single-request phase per request, evenly spaced.
 */
export function ratePhases(requests: number, durationMs: number, maxConnections: number, maxPhases: number = DEFAULT_MAX_PHASES): Phase[] {
  if (requests <= 0 || durationMs <= 0) return [];
  const ratePerSecond = requests / (durationMs / 1000);
  if (ratePerSecond < 1) {
    const spacing = durationMs / requests;
    return Array.from({ length: requests }, (_, i) => ({ offsetMs: Math.round(i * spacing), connections: 1, ratePerSecond: 1, requests: 1 }));
  }
  const budget = Math.ceil(ratePerSecond);
  const n = Math.min(maxPhases, budget, maxConnections, requests);
  const phases: Phase[] = [];
  for (let k = 0; k < n; k++) {
    const phaseBudget = share(budget, n, k);
    const phaseRequests = share(requests, n, k);
    phases.push({
      offsetMs: Math.round((k * 1000) / n),
      connections: Math.max(1, Math.min(share(maxConnections, n, k), phaseBudget, phaseRequests)),
      ratePerSecond: phaseBudget,
      requests: phaseRequests,
    });
  }
  return phases;
}

/** The k-th of n near-equal integer shares of `total` (the first ones get the remainder). */
function share(total: number, n: number, k: number): number {
  return Math.floor(total / n) + (k < total % n ? 1 : 0);
}
