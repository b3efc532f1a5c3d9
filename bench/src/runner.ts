// Runs a plan with autocannon and records every request into k6-named metrics.
//
//   plan ─► scenario ─► step (window) ─► phase = one autocannon instance ─► connections (clients)
//                                                     │ per client: request/response/error events
//                                                     ▼
//                                              MetricSet (http_req_duration, checks, ...)
//
// autocannon measures and paces; the harness owns the clock. A step ends by draining: clients with a
// request in flight finish it and then close, idle ones close at once; whatever is still in flight a
// graceful-stop later is abandoned (k6's interrupted iterations). Every step is therefore bounded in
// time, and every phase in count (its quota), and the run as a whole by `maxRequests`.
import autocannon from 'autocannon';
import { BenchError } from './errors.ts';
import { MetricSet } from './metrics.ts';
import type { Phase, Plan, ScenarioPlan, Step } from './plan.ts';
import type { CheckSpec, LoadTest, RequestSpec, TallySpec } from './scenario.ts';
import { metricDefinitions, tallySeenMetric } from './scenario.ts';
import { withRunBaggage } from './baggage.ts';

/** Why a run ended before its plan did. */
export type AbortReason = 'signal' | 'threshold' | 'max-requests';

export interface RunOptions {
  test: LoadTest;
  plan: Plan;
  runId: string;
  /** Most requests the whole run may send. */
  maxRequests: number;
  /** Aborts the run (drains, then stops): Ctrl-C. */
  signal?: AbortSignal;
  /** Called about once a second while the run goes on. */
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  elapsedMs: number;
  plannedMs: number;
  requests: number;
  failed: number;
  activeConnections: number;
}

export interface CheckCount {
  name: string;
  passes: number;
  fails: number;
}

export interface RunOutcome {
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  metrics: MetricSet;
  checks: CheckCount[];
  aborted?: AbortReason;
  /** Requests still in flight when a graceful stop ran out (not in the metrics, as in k6). */
  interruptedRequests: number;
}

/** How long an aborted run waits for requests in flight. */
const ABORT_GRACE_MS = 2_000; // 2 s
/**
 * An arrival-rate step drains this long after its window: its last bursts are due up to 1/N s before
 * the end, and a busy event loop may start them a little late. The quotas still cap what is sent.
 */
const RATE_DRAIN_SLACK_MS = 250;
/** autocannon notices a stop at its next sample tick: keep that short. */
const SAMPLE_INTERVAL_MS = 100;

/** The bits of autocannon's client (lib/httpClient.js) that are not in its typings; setupClient() asserts them. */
interface ClientInternals {
  reqsMade: number;
  responseMax: number;
  destroy(): void;
  /** `request`: a request was written; `connError`: the socket failed; `timeout`: a request timed out. */
  on(event: 'request' | 'connError' | 'timeout', listener: () => void): unknown;
}

interface ClientState {
  client: autocannon.Client & ClientInternals;
  /** Position in the request sequence of this client's first request (clients are staggered). */
  start: number;
  sent: number;
  done: number;
  /** When each request in flight was written, oldest first. autocannon writes the next request before
   * it reports a timeout, so there can briefly be two. */
  sentAtMs: number[];
  last: { status: number; body: string; headers: Record<string, string | string[] | undefined> } | undefined;
}

interface PhaseRun {
  clients: ClientState[];
  instance?: autocannon.Instance;
  sent: number;
  draining: boolean;
  finished: Promise<void>;
}

/** Runs the plan and resolves when every scenario has finished (or the run was aborted and drained). */
export async function runLoadTest(options: RunOptions): Promise<RunOutcome> {
  return new LoadRun(options).run();
}

class LoadRun {
  private readonly test: LoadTest;
  private readonly plan: Plan;
  private readonly metrics: MetricSet;
  private readonly checkCounts = new Map<string, CheckCount>();
  private readonly sequence: readonly RequestSpec[];
  private readonly requestBytes: readonly number[];
  private readonly origin: string;
  private readonly pathPrefix: string;
  private readonly headersOf: readonly Readonly<Record<string, string>>[];
  private readonly tagCache = new Map<string, Readonly<Record<string, string>>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<PhaseRun>();
  private readonly pending: Promise<void>[] = [];
  private t0 = 0;
  private sentTotal = 0;
  private completed = 0;
  private failed = 0;
  private activeConnections = 0;
  private interrupted = 0;
  private aborted: AbortReason | undefined;
  private readonly abortWaiters = new Set<() => void>();

  private readonly options: RunOptions;

  constructor(options: RunOptions) {
    this.options = options;
    this.test = options.test;
    this.plan = options.plan;
    this.metrics = new MetricSet({
      custom: metricDefinitions(this.test.tally),
      thresholds: this.test.thresholds,
      ...(this.test.tally === undefined ? {} : { autoSubmetrics: { [this.test.tally.metric]: this.test.tally.tag, [tallySeenMetric(this.test.tally)]: this.test.tally.tag } }),
    });
    const url = new URL(this.test.baseUrl);
    this.origin = url.origin;
    this.pathPrefix = url.pathname === '/' ? '' : url.pathname;
    this.sequence = weightedSequence(this.test.requests);
    this.headersOf = this.sequence.map((r) => {
      const headers: Record<string, string> = {};
      let baggage: string | undefined;
      for (const [name, value] of Object.entries(r.headers)) {
        if (name.toLowerCase() === 'baggage') baggage = value;
        else headers[name] = value;
      }
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'user-agent')) headers['user-agent'] = this.test.userAgent;
      headers.baggage = withRunBaggage(baggage, options.runId);
      return headers;
    });
    this.requestBytes = this.sequence.map((r, i) => httpRequestBytes(r.method, this.pathPrefix + r.path, url.host, this.headersOf[i] as Record<string, string>, r.body));
  }

  async run(): Promise<RunOutcome> {
    const startedAtMs = Date.now();
    this.t0 = performance.now();
    this.metrics.add('vus_max', this.plan.maxConnections, {});
    this.metrics.add('vus', 0, {});
    const onAbort = (): void => this.abort('signal');
    if (this.options.signal?.aborted === true) this.abort('signal');
    this.options.signal?.addEventListener('abort', onAbort, { once: true });

    const ticker = setInterval(() => this.tick(), 1000);
    try {
      for (const scenario of this.plan.scenarios) {
        for (const step of scenario.steps) this.pending.push(this.runStep(scenario, step));
      }
      await Promise.all(this.pending);
    } catch (error) {
      // An engine failure ends the run: stop every generator so nothing keeps sending after we return.
      this.abort('signal');
      for (const phase of this.running) this.stopNow(phase);
      throw error;
    } finally {
      clearInterval(ticker);
      this.options.signal?.removeEventListener('abort', onAbort);
      for (const timer of this.timers) clearTimeout(timer);
    }
    const durationMs = performance.now() - this.t0;
    this.metrics.add('vus', 0, {});
    const outcome: RunOutcome = {
      startedAtMs,
      endedAtMs: startedAtMs + Math.round(durationMs),
      durationMs,
      metrics: this.metrics,
      checks: [...this.checkCounts.values()],
      interruptedRequests: this.interrupted,
    };
    if (this.aborted !== undefined) outcome.aborted = this.aborted;
    return outcome;
  }

  private elapsed(): number {
    return performance.now() - this.t0;
  }

  private tick(): void {
    const elapsedMs = this.elapsed();
    this.metrics.add('vus', this.activeConnections, {});
    const failing = this.metrics.evaluate(elapsedMs, { abortable: true, elapsedMs }).some((r) => !r.ok);
    if (failing) this.abort('threshold');
    this.options.onProgress?.({ elapsedMs, plannedMs: this.plan.durationMs, requests: this.completed, failed: this.failed, activeConnections: this.activeConnections });
  }

  /** Resolves at `atMs` after the start (true), or at once when the run is aborted (false). */
  private until(atMs: number): Promise<boolean> {
    if (this.aborted !== undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.abortWaiters.delete(wake);
        resolve(this.aborted === undefined);
      }, Math.max(0, atMs - this.elapsed()));
      this.timers.add(timer);
      this.abortWaiters.add(wake);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private abort(reason: AbortReason): void {
    if (this.aborted !== undefined) return;
    this.aborted = reason;
    const waiters = [...this.abortWaiters];
    this.abortWaiters.clear();
    for (const wake of waiters) wake();
    for (const phase of this.running) this.drain(phase);
  }

  private async runStep(scenario: ScenarioPlan, step: Step): Promise<void> {
    if (!(await this.until(step.startMs))) return;
    const phases: PhaseRun[] = [];
    const started = step.phases.map(async (phase) => {
      if (!(await this.until(step.startMs + phase.offsetMs))) return;
      if (this.elapsed() >= step.endMs) return;
      const run = this.startPhase(scenario, phase);
      phases.push(run);
      await run.finished;
    });
    const drainAtMs = step.plannedRequests === undefined ? step.endMs : step.endMs + RATE_DRAIN_SLACK_MS;
    const stepEnd = this.until(drainAtMs).then((onTime) => {
      for (const phase of phases) this.drain(phase);
      // An arrival-rate executor drops the iterations it had no free connection for (k6's
      // dropped_iterations); a run cut short by an abort drops nothing, it just ends.
      if (onTime && step.plannedRequests !== undefined) {
        const dropped = step.plannedRequests - phases.reduce((n, p) => n + p.sent, 0);
        if (dropped > 0) this.metrics.add('dropped_iterations', dropped, { scenario: scenario.name });
      }
    });
    // After the window plus its graceful stop, whatever is still in flight is abandoned.
    void stepEnd.then(async () => {
      await this.sleep(this.aborted === undefined ? scenario.gracefulStopMs : Math.min(ABORT_GRACE_MS, scenario.gracefulStopMs));
      for (const phase of phases) this.stopNow(phase);
    });
    // A step is over when its phases are: drained at the end of the window, or done early with their
    // quota (iterations executors, or a rate the server kept up with: nothing was dropped then).
    await Promise.all(started);
  }

  private startPhase(scenario: ScenarioPlan, phase: Phase): PhaseRun {
    const run: PhaseRun = { clients: [], sent: 0, draining: false, finished: Promise.resolve() };
    const requests = this.sequence.map((r, i) => ({ method: r.method, path: this.pathPrefix + r.path, headers: this.headersOf[i], body: r.body }));
    const connections = Math.min(phase.connections, phase.ratePerSecond ?? phase.connections);
    this.activeConnections += connections;
    const opts: autocannon.Options = {
      url: this.origin,
      connections,
      amount: Math.max(phase.requests, connections),
      timeout: Math.max(1, this.test.timeoutMs / 1000),
      sampleInt: SAMPLE_INTERVAL_MS,
      skipAggregateResult: true,
      requests: requests,
      setupClient: (client) => this.setupClient(scenario, run, client as autocannon.Client & ClientInternals, requests),
    };
    if (phase.ratePerSecond !== undefined) opts.overallRate = phase.ratePerSecond;
    this.running.add(run);
    run.finished = new Promise<void>((resolve, reject) => {
      run.instance = autocannon(opts, (error) => {
        this.running.delete(run);
        this.activeConnections -= connections;
        for (const state of run.clients) this.interrupted += Math.max(0, state.sent - state.done);
        if (error !== null && error !== undefined) reject(new BenchError('ERR_BENCH_ENGINE', `autocannon failed: ${String(error)}`, { cause: error }));
        else resolve();
      });
    });
    if (this.aborted !== undefined) this.drain(run);
    return run;
  }

  private setupClient(scenario: ScenarioPlan, run: PhaseRun, client: autocannon.Client & ClientInternals, requests: object[]): void {
    if (typeof client.reqsMade !== 'number' || typeof client.destroy !== 'function') {
      throw new Error('autocannon client internals (reqsMade, destroy) are missing: the installed autocannon is not the one bench/ was written for');
    }
    const start = run.clients.length % this.sequence.length;
    const state: ClientState = { client, start, sent: 0, done: 0, sentAtMs: [], last: undefined };
    run.clients.push(state);
    const onResponse = (status: number, body: string, _context: object, headers: Record<string, string | string[] | undefined>): void => {
      state.last = { status, body, headers };
    };
    // Each client starts at its own place in the sequence, so short runs still mix every request.
    const rotated = [...requests.slice(start), ...requests.slice(0, start)].map((r) => ({ ...r, onResponse }));
    client.setRequests(rotated as autocannon.Request[]);
    client.on('request', () => {
      state.sent++;
      state.sentAtMs.push(performance.now());
      run.sent++;
      this.sentTotal++;
      if (this.sentTotal >= this.options.maxRequests) this.abort('max-requests');
    });
    client.on('response', (status: number, bytes: number) => {
      const last = state.last;
      state.last = undefined;
      this.complete(scenario, state, status, bytes, last?.body ?? '', last?.headers ?? {});
    });
    const fail = (): void => {
      // A connection error while nothing was in flight is autocannon reconnecting, not a request.
      if (state.sent > state.done) this.complete(scenario, state, 0, 0, '', {});
    };
    client.on('connError', fail);
    client.on('timeout', fail);
  }

  private complete(scenario: ScenarioPlan, state: ClientState, status: number, bytesIn: number, body: string, headers: Record<string, string | string[] | undefined>): void {
    const index = (state.start + state.done) % this.sequence.length;
    state.done++;
    this.completed++;
    const request = this.sequence[index] as RequestSpec;
    const durationMs = performance.now() - (state.sentAtMs.shift() ?? performance.now());
    const failed = status < 200 || status >= 400;
    if (failed) this.failed++;
    const tags = this.tags(scenario.name, index, request, status, failed);
    const m = this.metrics;
    m.add('http_reqs', 1, tags);
    m.add('http_req_duration', durationMs, tags);
    m.add('http_req_failed', failed ? 1 : 0, tags);
    m.add('iterations', 1, tags);
    m.add('iteration_duration', durationMs, tags);
    m.add('data_received', bytesIn, tags);
    m.add('data_sent', this.requestBytes[index] as number, tags);
    for (const check of request.checks) {
      const ok = checkPasses(check, status, body);
      m.add('checks', ok ? 1 : 0, { scenario: scenario.name, name: request.name, check: check.name });
      let count = this.checkCounts.get(check.name);
      if (count === undefined) {
        count = { name: check.name, passes: 0, fails: 0 };
        this.checkCounts.set(check.name, count);
      }
      if (ok) count.passes++;
      else count.fails++;
    }
    const tally = this.test.tally;
    if (tally !== undefined) {
      const tallyTags = { scenario: scenario.name, name: request.name, [tally.tag]: tallyValue(tally, status, body, headers) };
      m.add(tally.metric, 1, tallyTags);
      m.add(tallySeenMetric(tally), this.elapsed(), tallyTags);
    }
  }

  private tags(scenario: string, index: number, request: RequestSpec, status: number, failed: boolean): Readonly<Record<string, string>> {
    const key = `${scenario}\u0000${index}\u0000${status}`;
    let tags = this.tagCache.get(key);
    if (tags === undefined) {
      tags = Object.freeze({ scenario, name: request.name, method: request.method, status: String(status), expected_response: String(!failed) });
      this.tagCache.set(key, tags);
    }
    return tags;
  }

  /** Stop starting requests: clients with one in flight close after it, idle ones now. */
  private drain(run: PhaseRun): void {
    if (run.draining) return;
    run.draining = true;
    for (const state of run.clients) {
      if (state.sent > state.done) state.client.responseMax = Math.max(1, state.client.reqsMade);
      else state.client.destroy();
    }
  }

  private stopNow(run: PhaseRun): void {
    if (this.running.has(run)) run.instance?.stop();
  }
}

/**
 * The request sequence every client cycles through: each request `weight` times, interleaved by
 * smooth weighted round robin (nginx's), so weights 3:1 give A A B A rather than A A A B.
 */
export function weightedSequence<T extends { weight: number }>(requests: readonly T[]): T[] {
  const total = requests.reduce((n, r) => n + r.weight, 0);
  const current = requests.map(() => 0);
  const out: T[] = [];
  for (let i = 0; i < total; i++) {
    let best = 0;
    for (let j = 0; j < requests.length; j++) {
      current[j] = (current[j] as number) + (requests[j] as T).weight;
      if ((current[j] as number) > (current[best] as number)) best = j;
    }
    current[best] = (current[best] as number) - total;
    out.push(requests[best] as T);
  }
  return out;
}

/** k6's check semantics for the checks a scenario file can declare: every condition must hold. */
export function checkPasses(check: CheckSpec, status: number, body: string): boolean {
  if (check.status !== undefined && !check.status.includes(status)) return false;
  if (check.bodyIncludes !== undefined && !body.includes(check.bodyIncludes)) return false;
  if (check.bodyMatches !== undefined && !check.bodyMatches.test(body)) return false;
  return true;
}

/** The value a tally counts: a response header, or a (dotted) field of a JSON body; `none` when absent. */
export function tallyValue(tally: TallySpec, status: number, body: string, headers: Record<string, string | string[] | undefined>): string {
  if (status === 0) return 'none';
  if (tally.header !== undefined) {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === tally.header) return (Array.isArray(value) ? value[0] : value) ?? 'none';
    }
    return 'none';
  }
  try {
    let node: unknown = JSON.parse(body);
    for (const key of (tally.jsonField as string).split('.')) {
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
    return typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean' ? String(node) : 'none';
  } catch {
    return 'none';
  }
}

/** Bytes of a request as autocannon writes it (request line, Host, keep-alive, headers, length, body). */
export function httpRequestBytes(method: string, path: string, host: string, headers: Readonly<Record<string, string>>, body: string | undefined): number {
  const bodyBytes = body === undefined ? 0 : Buffer.byteLength(body);
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (bodyBytes > 0) head += `Content-Length: ${bodyBytes}\r\n`;
  return Buffer.byteLength(`${head}\r\n`) + bodyBytes;
}
