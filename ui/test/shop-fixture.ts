// The fixture the UI tests run against: twelve minutes of a small shop's traffic, sent to a real collector
// over OTLP by the OpenTelemetry SDK, shaped as meshlet's sidecars and runtime send it.
//
//                    ┌─► catalog (blue 80 % / green 20 %) ─┬─► pricing    (sometimes slow; 3 timeouts)
//   client ─► gateway┤                                     └─► inventory  (inventory-2 refuses: retries recover)
//                    ├─► cart ─┬─► inventory
//                    │         ├─► payments   (app_error: the origin; cart and gateway only propagate)
//                    │         └─► pricing    (cart drops the trace context on some calls)
//                    └─► reviews  (all pods down for the last 8 min: no_endpoints)
//
// Plus runtime events (restarts, an OOM kill, health flips, CPU throttling), `meshlet.pod.status`
// snapshots for the Mesh view, and two load-test runs (a baseline and a slower, failing canary).
import { INFRA_EVENTS, LOADTEST_ATTR, POD_ATTR } from '@meshlet/wire';
import { MeshSim, type CallPlan, type ServePlan, type TraceRecord } from './mesh-sim.ts';
import { ERROR, INFO, OtelSender, WARN, seededRandom, type PodIdentity } from './otel-sender.ts';

const MESH = 'shop';
const pod = (service: string, name: string, ip: string, version?: string): PodIdentity => ({ service, pod: name, ip, mesh: MESH, ...(version ? { version } : {}) });

export const PODS = {
  gateway: pod('gateway', 'gateway-1', '10.77.0.2', 'v3'),
  catalogBlue: pod('catalog', 'catalog-blue-1', '10.77.0.3', 'blue'),
  catalogGreen: pod('catalog', 'catalog-green-1', '10.77.0.4', 'green'),
  cart: pod('cart', 'cart-1', '10.77.0.5', 'v1'),
  pricing: pod('pricing', 'pricing-1', '10.77.0.6', 'v2'),
  inventory1: pod('inventory', 'inventory-1', '10.77.0.7', 'v1'),
  inventory2: pod('inventory', 'inventory-2', '10.77.0.8', 'v1'),
  payments: pod('payments', 'payments-1', '10.77.0.9', 'v5'),
  reviews: pod('reviews', 'reviews-1', '10.77.0.10', 'v1'),
} as const;

export const SERVICES = ['gateway', 'catalog', 'cart', 'pricing', 'inventory', 'payments', 'reviews'] as const;
export const EDGES = [
  'gateway->catalog',
  'gateway->cart',
  'gateway->reviews',
  'catalog->pricing',
  'catalog->inventory',
  'cart->inventory',
  'cart->payments',
] as const;

export const RUNS = { baseline: 'run-baseline-1', canary: 'run-canary-2' } as const;

export interface ShopFixture {
  traces: TraceRecord[];
  /** Failed checkouts whose failure started in payments (app_error), newest last. */
  paymentsFailures: TraceRecord[];
  noEndpointsFailures: TraceRecord[];
  timeoutFailures: TraceRecord[];
  /** The failed checkout 2 s after payments-1 was OOM-killed (its trace shows the event). */
  oomTrace: TraceRecord;
  spans: number;
  logs: number;
}

interface Ctx {
  sim: MeshSim;
  sender: OtelSender;
  random: () => number;
}

function between(random: () => number, min: number, max: number): number {
  return min + random() * (max - min);
}

function productsPlan(c: Ctx, opts: { slowPricing?: boolean; timeout?: boolean; retry?: boolean; green?: boolean; fault?: boolean } = {}): ServePlan {
  const { random } = c;
  const catalog = opts.green ? PODS.catalogGreen : PODS.catalogBlue;
  const pricingMs = opts.timeout ? between(random, 1400, 1900) : opts.slowPricing ? between(random, 450, 900) : between(random, 4, 18);
  const pricing: CallPlan = {
    service: 'pricing',
    method: 'GET',
    route: '/prices',
    attempts: [{ kind: 'serve', plan: { pod: PODS.pricing, method: 'GET', route: '/prices', selfMs: pricingMs } }],
    ...(opts.timeout ? { timeoutMs: 1000 } : {}),
  };
  const inventoryServe = { kind: 'serve' as const, plan: { pod: PODS.inventory1, method: 'GET', route: '/stock', selfMs: between(random, 2, 9) } };
  const inventory: CallPlan = {
    service: 'inventory',
    method: 'GET',
    route: '/stock',
    attempts: opts.retry ? [{ kind: 'fail', reason: 'connect_refused', endpoint: `${PODS.inventory2.ip}:15006`, latencyMs: between(random, 0.4, 1.5) }, inventoryServe] : [inventoryServe],
  };
  return {
    pod: PODS.gateway,
    method: 'GET',
    route: '/products',
    selfMs: between(random, 1, 3),
    calls: [
      {
        service: 'catalog',
        method: 'GET',
        route: '/products',
        version: opts.green ? 'green' : 'blue',
        ...(opts.fault ? { faultAbort: true } : {}),
        attempts: [{ kind: 'serve', plan: { pod: catalog, method: 'GET', route: '/products', selfMs: between(random, 3, 12), calls: [pricing, inventory] } }],
      },
    ],
  };
}

function checkoutPlan(c: Ctx, opts: { paymentsFails?: boolean; dropContext?: boolean } = {}): ServePlan {
  const { random } = c;
  const payments: ServePlan = {
    pod: PODS.payments,
    method: 'POST',
    route: '/charge',
    selfMs: opts.paymentsFails ? between(random, 20, 60) : between(random, 30, 120),
    ...(opts.paymentsFails ? { appFailure: { status: 500, log: 'charge failed: card processor unavailable (HTTP 503 from processor)' } } : { logs: ['charge accepted'] }),
  };
  const calls: CallPlan[] = [
    {
      service: 'inventory',
      method: 'POST',
      route: '/reserve',
      attempts: [{ kind: 'serve', plan: { pod: PODS.inventory1, method: 'POST', route: '/reserve', selfMs: between(random, 3, 10) } }],
    },
    { service: 'payments', method: 'POST', route: '/charge', attempts: [{ kind: 'serve', plan: payments }] },
  ];
  if (opts.dropContext) {
    calls.unshift({
      service: 'pricing',
      method: 'GET',
      route: '/prices',
      dropsContext: true,
      attempts: [{ kind: 'serve', plan: { pod: PODS.pricing, method: 'GET', route: '/prices', selfMs: between(random, 3, 12) } }],
    });
  }
  return {
    pod: PODS.gateway,
    method: 'POST',
    route: '/checkout',
    selfMs: between(random, 1, 3),
    calls: [
      {
        service: 'cart',
        method: 'POST',
        route: '/checkout',
        attempts: [{ kind: 'serve', plan: { pod: PODS.cart, method: 'POST', route: '/checkout', selfMs: between(random, 2, 6), calls, onCallFailure: 500 } }],
      },
    ],
  };
}

function reviewsPlan(c: Ctx, down: boolean): ServePlan {
  const { random } = c;
  return {
    pod: PODS.gateway,
    method: 'GET',
    route: '/products/{id}/reviews',
    path: `/products/${Math.floor(random() * 90) + 10}/reviews`,
    selfMs: between(random, 0.5, 2),
    calls: [
      {
        service: 'reviews',
        method: 'GET',
        route: '/reviews',
        attempts: down
          ? [{ kind: 'fail', reason: 'no_endpoints', latencyMs: between(random, 0.05, 0.3) }]
          : [{ kind: 'serve', plan: { pod: PODS.reviews, method: 'GET', route: '/reviews', selfMs: between(random, 5, 20) } }],
      },
    ],
  };
}

/** Sends the whole fixture, ending `nowMs`; resolves when the collector has acknowledged everything. */
export async function sendShopFixture(otlpUrl: string, nowMs: number, seed = 42): Promise<ShopFixture> {
  const random = seededRandom(seed);
  const sender = new OtelSender(otlpUrl, random);
  const sim = new MeshSim(sender, random);
  const c: Ctx = { sim, sender, random };
  const traces: TraceRecord[] = [];
  const paymentsFailures: TraceRecord[] = [];
  const noEndpointsFailures: TraceRecord[] = [];
  const timeoutFailures: TraceRecord[] = [];

  const minute = 60_000;
  const start = nowMs - 12 * minute;
  const reviewsDownAt = nowMs - 8 * minute;
  const paymentsTroubleAt = nowMs - 6 * minute;

  // Regular traffic: one request every ~3.5 s on average, for 12 minutes.
  for (let t = start, i = 0; t < nowMs - 15_000; t += between(random, 1500, 5500), i++) {
    const roll = random();
    let record: TraceRecord;
    if (roll < 0.55) {
      const slow = random() < 0.08;
      const retry = random() < 0.12;
      const green = random() < 0.2;
      const fault = i % 61 === 7;
      record = sim.request(productsPlan(c, { slowPricing: slow, retry, green, fault }), t);
    } else if (roll < 0.85) {
      const fails = t >= paymentsTroubleAt && random() < 0.45;
      record = sim.request(checkoutPlan(c, { paymentsFails: fails, dropContext: i % 9 === 4 }), t);
      if (fails) paymentsFailures.push(record);
    } else {
      record = sim.request(reviewsPlan(c, t >= reviewsDownAt), t);
      if (t >= reviewsDownAt) noEndpointsFailures.push(record);
    }
    traces.push(record);
  }
  // Three requests where pricing is so slow that catalog's route timeout (1 s) fires.
  for (const ago of [9.5, 5.2, 1.4]) {
    const record = sim.request(productsPlan(c, { timeout: true }), nowMs - ago * minute);
    traces.push(record);
    timeoutFailures.push(record);
  }

  // Runtime events around the trouble.
  const p = PODS;
  sender.event(p.reviews, reviewsDownAt - 4000, INFRA_EVENTS.healthChanged, WARN, 'health check failed 3 times: GET /healthz timed out', {
    [POD_ATTR.healthStatus]: 'unhealthy',
    [POD_ATTR.healthDetail]: 'GET /healthz: timeout after 1 s',
  });
  sender.event(p.reviews, reviewsDownAt - 1000, INFRA_EVENTS.exited, ERROR, 'app exited with code 137 (SIGKILL)', { [POD_ATTR.exitCode]: 137, [POD_ATTR.signal]: 'SIGKILL' });
  sender.event(p.payments, paymentsTroubleAt - 20_000, INFRA_EVENTS.healthChanged, WARN, 'health check failed: card processor unreachable', {
    [POD_ATTR.healthStatus]: 'unhealthy',
    [POD_ATTR.healthDetail]: 'GET /healthz: 503',
  });
  sender.event(p.payments, paymentsTroubleAt - 12_000, INFRA_EVENTS.restarted, WARN, 'restarted after failing health checks', {
    [POD_ATTR.restarts]: 2,
    [POD_ATTR.restartReason]: 'unhealthy',
  });
  const oomAt = nowMs - 3 * minute;
  sender.event(p.payments, oomAt, INFRA_EVENTS.oomKilled, ERROR, 'OOM kill in the pod cgroup (memory.max 256 MiB)', { [POD_ATTR.memoryLimitBytes]: 268_435_456 });
  sender.event(p.payments, oomAt + 800, INFRA_EVENTS.restarted, WARN, 'restarted after OOM kill', { [POD_ATTR.restarts]: 3, [POD_ATTR.restartReason]: 'oom' });
  for (const ago of [7.1, 4.4, 0.9]) {
    sender.event(p.pricing, nowMs - ago * minute, INFRA_EVENTS.cpuThrottled, WARN, 'CPU throttled: 0.42 s in the last 10 s', { [POD_ATTR.cpuThrottledSeconds]: 0.42 });
  }
  // A failed checkout right after the OOM kill: its trace shows the event inline.
  const oomTrace = sim.request(checkoutPlan(c, { paymentsFails: true }), oomAt + 2000);
  traces.push(oomTrace);
  paymentsFailures.push(oomTrace);

  // Load-test runs: a healthy baseline and a canary hitting the payments trouble and slow pricing.
  const bench = pod('meshlet-bench', 'bench', '127.0.0.1');
  const runs: { id: string; name: string; from: number; to: number; passed: boolean }[] = [
    { id: RUNS.baseline, name: 'baseline', from: nowMs - 11 * minute, to: nowMs - 9.5 * minute, passed: true },
    { id: RUNS.canary, name: 'canary', from: nowMs - 4 * minute, to: nowMs - 2.5 * minute, passed: false },
  ];
  for (const run of runs) {
    let requests = 0;
    let errors = 0;
    sender.log(bench, 'loadtest', run.from - 50, INFO, `load test ${run.name} started`, {
      'event.name': INFRA_EVENTS.loadTestStarted,
      [LOADTEST_ATTR.name]: run.name,
      [LOADTEST_ATTR.target]: 'http://gateway:8080',
      'meshlet.run': run.id,
    });
    for (let t = run.from; t < run.to; t += between(random, 500, 1500)) {
      const canary = run.id === RUNS.canary;
      const plan = random() < 0.6 ? productsPlan(c, { slowPricing: canary && random() < 0.35 }) : checkoutPlan(c, { paymentsFails: canary && random() < 0.3 });
      const record = sim.request(plan, t, run.id);
      traces.push(record);
      requests++;
      if (record.status >= 500) {
        errors++;
        if (record.origins.some((o) => o.service === 'payments')) paymentsFailures.push(record);
      }
    }
    sender.log(bench, 'loadtest', run.to + 50, run.passed ? INFO : WARN, `load test ${run.name} finished`, {
      'event.name': INFRA_EVENTS.loadTestFinished,
      [LOADTEST_ATTR.name]: run.name,
      [LOADTEST_ATTR.requests]: requests,
      [LOADTEST_ATTR.errors]: errors,
      [LOADTEST_ATTR.thresholdsPassed]: run.passed,
      'meshlet.run': run.id,
      [LOADTEST_ATTR.summaryJson]: JSON.stringify({ metrics: { http_reqs: { count: requests }, http_req_failed: { passes: errors, fails: requests - errors } } }),
    });
  }

  sendPodSnapshots(sender, nowMs);
  await sender.close();
  paymentsFailures.sort((a, b) => a.startMs - b.startMs);
  return { traces, paymentsFailures, noEndpointsFailures, timeoutFailures, oomTrace, spans: sender.spans.count, logs: sender.logsSent.count };
}

/** Two `meshlet.pod.status` snapshots per pod, 5 s apart and ending at `nowMs`, as the runtime sends them. */
export function sendPodSnapshots(sender: OtelSender, nowMs: number): void {
  const list: { p: PodIdentity; state: string; health: string; restarts: number; cpu: number; mem: number; limit: number; n: number }[] = [
    { p: PODS.gateway, state: 'running', health: 'healthy', restarts: 0, cpu: 0.08, mem: 61e6, limit: 256 * 2 ** 20, n: 2 },
    { p: PODS.catalogBlue, state: 'running', health: 'healthy', restarts: 0, cpu: 0.05, mem: 72e6, limit: 256 * 2 ** 20, n: 3 },
    { p: PODS.catalogGreen, state: 'running', health: 'healthy', restarts: 0, cpu: 0.02, mem: 70e6, limit: 256 * 2 ** 20, n: 4 },
    { p: PODS.cart, state: 'running', health: 'healthy', restarts: 0, cpu: 0.03, mem: 55e6, limit: 256 * 2 ** 20, n: 5 },
    { p: PODS.pricing, state: 'running', health: 'healthy', restarts: 0, cpu: 0.48, mem: 90e6, limit: 128 * 2 ** 20, n: 6 },
    { p: PODS.inventory1, state: 'running', health: 'healthy', restarts: 0, cpu: 0.02, mem: 48e6, limit: 128 * 2 ** 20, n: 7 },
    { p: PODS.inventory2, state: 'restarting', health: 'starting', restarts: 5, cpu: 0, mem: 12e6, limit: 128 * 2 ** 20, n: 8 },
    { p: PODS.payments, state: 'running', health: 'healthy', restarts: 3, cpu: 0.11, mem: 241e6, limit: 256 * 2 ** 20, n: 9 },
    { p: PODS.reviews, state: 'failed', health: 'unhealthy', restarts: 4, cpu: 0, mem: 0, limit: 128 * 2 ** 20, n: 10 },
  ];
  for (const s of list) {
    for (const [k, at] of [nowMs - 5500, nowMs - 500].entries()) {
      sender.event(s.p, at, INFRA_EVENTS.status, INFO, `${s.p.pod} ${s.state}`, {
        [POD_ATTR.state]: s.state,
        [POD_ATTR.netns]: `meshlet-${MESH}-${s.p.pod}`,
        [POD_ATTR.veth]: `mlv${String(s.n).padStart(2, '0')}h`,
        [POD_ATTR.restarts]: s.restarts,
        [POD_ATTR.healthStatus]: s.health,
        [POD_ATTR.cpuSeconds]: 100 + s.n * 7 + k * 5 * s.cpu,
        [POD_ATTR.memoryBytes]: s.mem,
        [POD_ATTR.memoryLimitBytes]: s.limit,
        [POD_ATTR.pids]: s.state === 'running' ? 9 : 1,
        [POD_ATTR.startedAtMs]: nowMs - 40 * 60_000 + s.n * 1000,
      });
    }
  }
}

/** Fresh `meshlet.pod.status` snapshots of every pod, as the runtime keeps sending them. */
export async function sendPodStatus(otlpUrl: string, nowMs: number): Promise<void> {
  const sender = new OtelSender(otlpUrl, seededRandom(11));
  sendPodSnapshots(sender, nowMs);
  await sender.close();
}

/** More traffic right now, with a new service (search) behind the gateway: for the live-update test. */
export async function sendLiveBurst(otlpUrl: string, nowMs: number, seed = 7): Promise<{ traces: TraceRecord[] }> {
  const random = seededRandom(seed);
  const sender = new OtelSender(otlpUrl, random);
  const sim = new MeshSim(sender, random);
  const c: Ctx = { sim, sender, random };
  const search = pod('search', 'search-1', '10.77.0.11', 'v1');
  const traces: TraceRecord[] = [];
  for (let i = 0; i < 12; i++) {
    const t = nowMs - 3000 + i * 200;
    traces.push(
      sim.request(
        {
          pod: PODS.gateway,
          method: 'GET',
          route: '/search',
          selfMs: 1,
          calls: [{ service: 'search', method: 'GET', route: '/query', attempts: [{ kind: 'serve', plan: { pod: search, method: 'GET', route: '/query', selfMs: between(random, 5, 25) } }] }],
        },
        t,
      ),
    );
    traces.push(sim.request(checkoutPlan(c, { paymentsFails: i % 2 === 0 }), t + 100));
  }
  await sender.close();
  return { traces };
}
