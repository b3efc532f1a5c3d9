// Load-test scenario files: what to request, which checks to run, and a k6 `options` object (scenarios,
// thresholds) that k6 scripts export unchanged and the harness runs with autocannon. One file, two engines.
//
//   bench/k6/scenarios/steady.json ──► k6:      export const options = scenario.options
//                                  └─► harness: meshlet bench --scenario bench/k6/scenarios/steady.json
import { z } from 'zod';
import { describeSchemaIssue, parseDurationMs, readYamlDocument, type SpecProblem } from '@meshlet/wire';
import { BUILTIN_METRICS, DEFAULT_TREND_STATS, MetricSet, type MetricDefinition } from './metrics.ts';
import { metricKeyName, parseMetricKey, parseThresholdExpression, type MetricKey, type Threshold } from './thresholds.ts';

/** Where the demo shop's gateway listens (k6 scripts: `__ENV.BASE_URL`). */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
/** Per-request timeout, as k6's default. */
export const DEFAULT_TIMEOUT_MS = 60_000; // 60 s
/** How long a scenario waits for requests in flight when its time is up, as k6's default. */
export const DEFAULT_GRACEFUL_STOP_MS = 30_000; // 30 s

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const DURATION_HINT = 'expected a duration such as "30s", "1m30s" or "500ms"';

const duration = z.union([z.string(), z.number()]).refine((v) => parseDurationMs(v) !== undefined, { message: DURATION_HINT });
const positiveDuration = z
  .union([z.string(), z.number()])
  .refine((v) => (parseDurationMs(v) ?? 0) > 0, { message: `${DURATION_HINT}, longer than 0` });
const count = z.number().int().nonnegative();
const positiveCount = z.number().int().positive();

const checkSchema = z
  .strictObject({
    status: z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]).optional(),
    bodyIncludes: z.string().optional(),
    bodyMatches: z.string().optional(),
  })
  .refine((c) => c.status !== undefined || c.bodyIncludes !== undefined || c.bodyMatches !== undefined, {
    message: 'a check needs at least one of status, bodyIncludes, bodyMatches',
  });
const checksSchema = z.record(z.string().min(1), checkSchema);

const requestSchema = z.strictObject({
  name: z.string().min(1).max(100),
  method: z.enum(HTTP_METHODS).default('GET'),
  path: z.string().startsWith('/', { message: 'expected a path starting with "/"' }),
  headers: z.record(z.string().min(1), z.string()).optional(),
  body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  weight: z.number().int().min(1).max(100).default(1),
  checks: checksSchema.optional(),
});

const base = {
  startTime: duration.optional(),
  gracefulStop: duration.optional(),
  exec: z.literal('default', { message: 'the harness runs one request sequence per scenario; leave exec out or set it to "default"' }).optional(),
  tags: z.record(z.string(), z.string()).optional(),
};
const stage = z.strictObject({ duration, target: count });
const arrivalRate = { timeUnit: positiveDuration.optional(), preAllocatedVUs: positiveCount, maxVUs: positiveCount.optional() };

const scenarioSchema = z.discriminatedUnion('executor', [
  z.strictObject({ executor: z.literal('constant-arrival-rate'), rate: z.number().positive(), duration: positiveDuration, ...arrivalRate, ...base }),
  z.strictObject({ executor: z.literal('ramping-arrival-rate'), startRate: z.number().nonnegative().optional(), stages: z.array(stage).min(1), ...arrivalRate, ...base }),
  z.strictObject({ executor: z.literal('constant-vus'), vus: positiveCount.optional(), duration: positiveDuration, ...base }),
  z.strictObject({ executor: z.literal('ramping-vus'), startVUs: count.optional(), stages: z.array(stage).min(1), gracefulRampDown: duration.optional(), ...base }),
  z.strictObject({ executor: z.literal('shared-iterations'), vus: positiveCount.optional(), iterations: positiveCount.optional(), maxDuration: positiveDuration.optional(), ...base }),
  z.strictObject({ executor: z.literal('per-vu-iterations'), vus: positiveCount.optional(), iterations: positiveCount.optional(), maxDuration: positiveDuration.optional(), ...base }),
]);
const EXECUTORS = ['constant-arrival-rate', 'ramping-arrival-rate', 'constant-vus', 'ramping-vus', 'shared-iterations', 'per-vu-iterations'];

const thresholdSchema = z.union([
  z.string(),
  z.strictObject({ threshold: z.string(), abortOnFail: z.boolean().optional(), delayAbortEval: duration.optional() }),
]);

/** The k6 options the harness understands. Anything else is refused rather than silently ignored. */
const optionsSchema = z.strictObject({
  scenarios: z.record(z.string().regex(NAME, { message: 'expected a name of letters, digits, ".", "_" or "-"' }), scenarioSchema).optional(),
  vus: positiveCount.optional(),
  duration: positiveDuration.optional(),
  iterations: positiveCount.optional(),
  stages: z.array(stage).min(1).optional(),
  thresholds: z.record(z.string(), z.array(thresholdSchema)).optional(),
  summaryTrendStats: z.array(z.string()).min(1).optional(),
  userAgent: z.string().optional(),
});

const tallySchema = z
  .strictObject({
    metric: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected a metric name of letters, digits and "_"' }),
    tag: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('value'),
    header: z.string().min(1).optional(),
    jsonField: z.string().min(1).optional(),
  })
  .refine((t) => (t.header === undefined) !== (t.jsonField === undefined), { message: 'a tally reads exactly one of header or jsonField' });

export const scenarioFileSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(NAME, { message: 'expected a name of letters, digits, ".", "_" or "-" (at most 64)' }),
  description: z.string().optional(),
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  timeout: positiveDuration.optional(),
  headers: z.record(z.string().min(1), z.string()).optional(),
  requests: z.array(requestSchema).min(1).max(50),
  checks: checksSchema.optional(),
  tally: tallySchema.optional(),
  options: optionsSchema.default({}),
});

/** A scenario file as written (after defaults). */
export type ScenarioFile = z.input<typeof scenarioFileSchema>;

// ---- The normalised form the planner and runner use: milliseconds, per-second rates, no optionals. ----

export interface CheckSpec {
  name: string;
  status?: readonly number[];
  bodyIncludes?: string;
  bodyMatches?: RegExp;
}

export interface RequestSpec {
  name: string;
  method: (typeof HTTP_METHODS)[number];
  path: string;
  headers: Readonly<Record<string, string>>;
  body?: string;
  weight: number;
  /** The request's own checks, then the file's checks for every request. */
  checks: readonly CheckSpec[];
}

export interface Stage {
  durationMs: number;
  target: number;
}

export type ExecutorSpec =
  | { executor: 'constant-arrival-rate'; ratePerSecond: number; durationMs: number; maxConnections: number }
  | { executor: 'ramping-arrival-rate'; startRatePerSecond: number; stages: readonly Stage[]; maxConnections: number }
  | { executor: 'constant-vus'; vus: number; durationMs: number }
  | { executor: 'ramping-vus'; startVus: number; stages: readonly Stage[] }
  | { executor: 'shared-iterations'; vus: number; iterations: number; maxDurationMs: number }
  | { executor: 'per-vu-iterations'; vus: number; iterations: number; maxDurationMs: number };

export interface ScenarioSpec {
  name: string;
  startMs: number;
  gracefulStopMs: number;
  run: ExecutorSpec;
}

export interface TallySpec {
  metric: string;
  tag: string;
  header?: string;
  jsonField?: string;
}

export interface ThresholdSet {
  key: MetricKey;
  thresholds: Threshold[];
}

/** A validated, frozen load test. */
export interface LoadTest {
  name: string;
  description?: string;
  baseUrl: string;
  timeoutMs: number;
  requests: readonly RequestSpec[];
  scenarios: readonly ScenarioSpec[];
  thresholds: readonly ThresholdSet[];
  trendStats: readonly string[];
  userAgent: string;
  tally?: TallySpec;
}

export type LoadTestResult = { ok: true; test: LoadTest } | { ok: false; problems: SpecProblem[] };

export interface NormaliseOptions {
  /** Overrides the file's `baseUrl` (flag, env). */
  baseUrl?: string;
  /** Thresholds added by flags, by metric key. */
  extraThresholds?: Readonly<Record<string, readonly string[]>>;
  userAgent: string;
}

/**
 * Reads a scenario file (JSON or YAML) and reports every problem with its field path and line.
 * @example
 * const r = parseScenarioFile(text, { userAgent: 'meshlet-bench' });
 * if (!r.ok) console.error(formatSpecProblems(r.problems, 'steady.json'));
 */
export function parseScenarioFile(text: string, options: NormaliseOptions): LoadTestResult {
  const read = readYamlDocument(text);
  if (!read.ok) return read;
  const result = validateScenario(read.data, options);
  if (result.ok) return result;
  for (const problem of result.problems) {
    const pos = read.positionOf(problem.path === '' ? [] : splitPath(problem.path));
    if (pos !== undefined) {
      problem.line = pos.line;
      problem.column = pos.column;
    }
  }
  result.problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path));
  return result;
}

/** Validates a scenario object (from a file, or built from command-line flags) and normalises it. */
export function validateScenario(data: unknown, options: NormaliseOptions): LoadTestResult {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, problems: [{ path: '', message: 'expected a mapping with "name", "requests" and "options"' }] };
  }
  const parsed = scenarioFileSchema.safeParse(data, { error: describeSchemaIssue, reportInput: true });
  if (!parsed.success) {
    const problems: SpecProblem[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ path: joinPath([...issue.path, key]), message: `unknown field "${key}"${unknownFieldHint(issue.path)}` });
      } else if (issue.code === 'invalid_union' && issue.path.at(-1) === 'executor') {
        const got = valueAt(data, issue.path);
        problems.push({ path: joinPath(issue.path), message: `expected one of ${EXECUTORS.join(', ')}, got ${JSON.stringify(got) ?? 'nothing'}` });
      } else {
        problems.push({ path: joinPath(issue.path), message: issue.message });
      }
    }
    return { ok: false, problems };
  }
  return normalise(parsed.data, options);
}

type Parsed = z.output<typeof scenarioFileSchema>;

function normalise(file: Parsed, options: NormaliseOptions): LoadTestResult {
  const problems: SpecProblem[] = [];
  const ms = (value: string | number): number => parseDurationMs(value) as number;

  const fileChecks = toChecks(file.checks ?? {}, 'checks', problems);
  const defaultHeaders = file.headers ?? {};
  const requests: RequestSpec[] = file.requests.map((r, i) => {
    let body: string | undefined;
    const headers: Record<string, string> = { ...defaultHeaders, ...r.headers };
    if (typeof r.body === 'string') body = r.body;
    else if (r.body !== undefined) {
      body = JSON.stringify(r.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const spec: RequestSpec = {
      name: r.name,
      method: r.method,
      path: r.path,
      headers,
      weight: r.weight,
      checks: [...toChecks(r.checks ?? {}, `requests.${i}.checks`, problems), ...fileChecks],
    };
    if (body !== undefined) spec.body = body;
    return spec;
  });

  const opts = file.options;
  const scenarios: ScenarioSpec[] = [];
  if (opts.scenarios !== undefined && Object.keys(opts.scenarios).length > 0) {
    for (const key of ['vus', 'duration', 'iterations', 'stages'] as const) {
      if (opts[key] !== undefined) problems.push({ path: `options.${key}`, message: `cannot be combined with options.scenarios (k6 refuses it too); move it into a scenario` });
    }
    for (const [name, s] of Object.entries(opts.scenarios)) {
      const path = `options.scenarios.${name}`;
      const common = { name, startMs: ms(s.startTime ?? 0), gracefulStopMs: ms(s.gracefulStop ?? DEFAULT_GRACEFUL_STOP_MS) };
      switch (s.executor) {
        case 'constant-arrival-rate':
        case 'ramping-arrival-rate': {
          const timeUnitMs = ms(s.timeUnit ?? '1s');
          const maxConnections = s.maxVUs ?? s.preAllocatedVUs;
          if (maxConnections < s.preAllocatedVUs) problems.push({ path: `${path}.maxVUs`, message: `must be at least preAllocatedVUs (${s.preAllocatedVUs})` });
          const perSecond = (rate: number): number => rate / (timeUnitMs / 1000);
          if (s.executor === 'constant-arrival-rate') {
            scenarios.push({ ...common, run: { executor: s.executor, ratePerSecond: perSecond(s.rate), durationMs: ms(s.duration), maxConnections } });
          } else {
            const stages = s.stages.map((st) => ({ durationMs: ms(st.duration), target: perSecond(st.target) }));
            scenarios.push({ ...common, run: { executor: s.executor, startRatePerSecond: perSecond(s.startRate ?? 0), stages, maxConnections } });
          }
          break;
        }
        case 'constant-vus':
          scenarios.push({ ...common, run: { executor: s.executor, vus: s.vus ?? 1, durationMs: ms(s.duration) } });
          break;
        case 'ramping-vus':
          scenarios.push({ ...common, run: { executor: s.executor, startVus: s.startVUs ?? 1, stages: s.stages.map((st) => ({ durationMs: ms(st.duration), target: st.target })) } });
          break;
        case 'shared-iterations':
        case 'per-vu-iterations': {
          const vus = s.vus ?? 1;
          const iterations = s.iterations ?? 1;
          if (s.executor === 'shared-iterations' && iterations < vus) {
            problems.push({ path: `${path}.iterations`, message: `must be at least vus (${vus}): k6 refuses more VUs than shared iterations` });
          }
          scenarios.push({ ...common, run: { executor: s.executor, vus, iterations, maxDurationMs: ms(s.maxDuration ?? '10m') } });
          break;
        }
      }
    }
  } else {
    // k6's shortcuts: stages → ramping-vus; duration → constant-vus; iterations → shared-iterations; else one iteration.
    const common = { name: 'default', startMs: 0, gracefulStopMs: DEFAULT_GRACEFUL_STOP_MS };
    const vus = opts.vus ?? 1;
    if (opts.stages !== undefined) {
      scenarios.push({ ...common, run: { executor: 'ramping-vus', startVus: vus, stages: opts.stages.map((st) => ({ durationMs: ms(st.duration), target: st.target })) } });
    } else if (opts.duration !== undefined && opts.iterations === undefined) {
      scenarios.push({ ...common, run: { executor: 'constant-vus', vus, durationMs: ms(opts.duration) } });
    } else {
      const iterations = opts.iterations ?? 1;
      if (iterations < vus) problems.push({ path: 'options.iterations', message: `must be at least vus (${vus})` });
      const maxDurationMs = opts.duration !== undefined ? ms(opts.duration) : 600_000; // k6: 10 min
      scenarios.push({ ...common, run: { executor: 'shared-iterations', vus, iterations, maxDurationMs } });
    }
  }

  const trendStats = opts.summaryTrendStats ?? DEFAULT_TREND_STATS;
  trendStats.forEach((stat, i) => {
    if (!/^(avg|min|med|max|count|p\((\d+(\.\d+)?)\))$/.test(stat) || (stat.startsWith('p(') && Number(stat.slice(2, -1)) > 100)) {
      problems.push({ path: `options.summaryTrendStats.${i}`, message: `unknown statistic "${stat}"; expected avg, min, med, max, count or p(N)` });
    }
  });

  let tally: TallySpec | undefined;
  if (file.tally !== undefined) {
    tally = { metric: file.tally.metric, tag: file.tally.tag };
    if (file.tally.header !== undefined) tally.header = file.tally.header.toLowerCase();
    if (file.tally.jsonField !== undefined) tally.jsonField = file.tally.jsonField;
    if (BUILTIN_METRICS[tally.metric] !== undefined) problems.push({ path: 'tally.metric', message: `"${tally.metric}" is a built-in metric; choose another name` });
  }
  const definitions = metricDefinitions(tally);

  const thresholds = new Map<string, ThresholdSet>();
  const addThreshold = (rawKey: string, entry: z.output<typeof thresholdSchema>, path: string): void => {
    const key = parseMetricKey(rawKey);
    if (!key.ok) {
      problems.push({ path, message: key.error });
      return;
    }
    const text = typeof entry === 'string' ? entry : entry.threshold;
    const expression = parseThresholdExpression(text);
    if (!expression.ok) {
      problems.push({ path, message: expression.error });
      return;
    }
    const threshold: Threshold = {
      ...expression.value,
      source: text,
      abortOnFail: typeof entry === 'object' && entry.abortOnFail === true,
      delayAbortEvalMs: typeof entry === 'object' && entry.delayAbortEval !== undefined ? ms(entry.delayAbortEval) : 0,
    };
    const problem = MetricSet.problem(key.value, threshold, definitions);
    if (problem !== undefined) {
      problems.push({ path, message: `"${text}": ${problem}` });
      return;
    }
    const name = metricKeyName(key.value);
    const set = thresholds.get(name) ?? { key: key.value, thresholds: [] };
    set.thresholds.push(threshold);
    thresholds.set(name, set);
  };
  for (const [rawKey, list] of Object.entries(opts.thresholds ?? {})) {
    list.forEach((entry, i) => addThreshold(rawKey, entry, `options.thresholds.${rawKey}.${i}`));
  }
  for (const [rawKey, list] of Object.entries(options.extraThresholds ?? {})) {
    for (const text of list) addThreshold(rawKey, text, `--threshold ${rawKey}:${text}`);
  }

  if (problems.length > 0) return { ok: false, problems };
  const test: LoadTest = {
    name: file.name,
    baseUrl: (options.baseUrl ?? file.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, ''),
    timeoutMs: ms(file.timeout ?? DEFAULT_TIMEOUT_MS),
    requests,
    scenarios,
    thresholds: [...thresholds.values()],
    trendStats,
    userAgent: opts.userAgent ?? options.userAgent,
  };
  if (file.description !== undefined) test.description = file.description;
  if (tally !== undefined) test.tally = tally;
  return { ok: true, test: deepFreeze(test) };
}

function toChecks(checks: Readonly<Record<string, z.output<typeof checkSchema>>>, path: string, problems: SpecProblem[]): CheckSpec[] {
  return Object.entries(checks).map(([name, c]) => {
    const spec: CheckSpec = { name };
    if (c.status !== undefined) spec.status = Array.isArray(c.status) ? c.status : [c.status];
    if (c.bodyIncludes !== undefined) spec.bodyIncludes = c.bodyIncludes;
    if (c.bodyMatches !== undefined) {
      try {
        spec.bodyMatches = new RegExp(c.bodyMatches);
      } catch (error) {
        problems.push({ path: `${path}.${name}.bodyMatches`, message: `not a regular expression: ${(error as Error).message}` });
      }
    }
    return spec;
  });
}

/**
 * Metric definitions of a test: the built-in ones plus its tally — a counter of responses by value,
 * and a `<metric>_at` time trend of when each value answered (ms since the start: min is the first
 * time, max the last, so a blue-green watcher sees when the shift began and ended).
 */
export function metricDefinitions(tally: TallySpec | undefined): Record<string, MetricDefinition> {
  const definitions: Record<string, MetricDefinition> = { ...BUILTIN_METRICS };
  if (tally !== undefined && BUILTIN_METRICS[tally.metric] === undefined) {
    definitions[tally.metric] = { type: 'counter', contains: 'default', extraTags: [tally.tag] };
    definitions[tallySeenMetric(tally)] = { type: 'trend', contains: 'time', extraTags: [tally.tag] };
  }
  return definitions;
}

/** The name of a tally's "when seen" trend. */
export function tallySeenMetric(tally: TallySpec): string {
  return `${tally.metric}_at`;
}

function unknownFieldHint(path: readonly PropertyKey[]): string {
  if (path.length === 1 && path[0] === 'options') return ' (the harness runs scenarios, vus, duration, iterations, stages, thresholds, summaryTrendStats and userAgent)';
  return '';
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Dotted paths back to keys; threshold keys may themselves contain dots (`{name:/a.b}`), so braces are kept whole. */
function splitPath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  let current = '';
  let depth = 0;
  for (const ch of path) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === '.' && depth === 0) {
      parts.push(/^\d+$/.test(current) ? Number(current) : current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(/^\d+$/.test(current) ? Number(current) : current);
  return parts;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof RegExp)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
