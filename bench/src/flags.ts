// Command-line flags of `meshlet bench`: parsed with commander, checked once, and turned into the same
// scenario object a scenario file holds, so one validator and one planner serve both.
import { Command, InvalidArgumentError, Option, type CommanderError } from 'commander';
import { parseDurationMs } from '@meshlet/wire';
import { BenchError } from './errors.ts';
import { RUN_ID_PATTERN } from './baggage.ts';
import type { ScenarioFile } from './scenario.ts';

export interface BenchFlags {
  url?: string;
  scenario?: string;
  rate?: number;
  duration?: string;
  connections?: number;
  requests?: number;
  stage: { duration: string; target: number }[];
  method?: string;
  header: [string, string][];
  body?: string;
  checkStatus?: number[];
  checkBody?: string;
  timeout?: string;
  threshold: [string, string][];
  baseUrl?: string;
  runId?: string;
  name?: string;
  collector?: string;
  summaryExport?: string;
  maxRequests: number;
  dryRun: boolean;
  quiet: boolean;
  color: boolean;
}

/** What the command line asked for: help text already printed, or flags to run. */
export type FlagResult = { kind: 'done'; exitCode: number } | { kind: 'run'; flags: BenchFlags };

/** Most requests a run may send unless --max-requests says otherwise. */
export const DEFAULT_MAX_REQUESTS = 1_000_000;
/** URL-mode defaults, as k6's (10 s) and autocannon's (10 connections). */
export const DEFAULT_DURATION = '10s';
export const DEFAULT_CONNECTIONS = 10;

const SHAPE_FLAGS = ['rate', 'duration', 'connections', 'requests', 'method', 'body', 'checkStatus', 'checkBody', 'timeout'] as const;

const EXAMPLES = `
Examples:
  meshlet bench http://127.0.0.1:8080/api/products --rate 200 --duration 30s \\
      --threshold 'http_req_duration:p(95)<500' --threshold 'http_req_failed:rate<0.01'
  meshlet bench -s bench/k6/scenarios/steady.json --collector http://127.0.0.1:4318
  meshlet bench -s bench/k6/scenarios/spike.json --base-url http://127.0.0.1:18080 --summary-export spike.json

Scenario files are the JSON files the k6 scripts in bench/k6/ read: requests, checks, and a k6
"options" object (scenarios with the executors constant-arrival-rate, ramping-arrival-rate,
constant-vus, ramping-vus, shared-iterations, per-vu-iterations; thresholds; summaryTrendStats).

Metrics (k6 names): http_reqs, http_req_duration, http_req_failed, checks, iterations,
iteration_duration, data_sent, data_received, dropped_iterations, vus, vus_max; sub-metrics by tag
(scenario, name, method, status, expected_response, check), e.g. http_req_duration{scenario:steady}.

Every request carries "baggage: meshlet.run=<run id>" (merged with any baggage header you send);
with --collector the run also sends meshlet.loadtest.started/finished log records over OTLP/HTTP.

Output: the text summary goes to stderr; the k6-shaped summary JSON (handleSummary's data) goes to
--summary-export, or to stdout when stdout is not a terminal.

Environment: MESHLET_BENCH_COLLECTOR (else OTEL_EXPORTER_OTLP_ENDPOINT), MESHLET_BENCH_BASE_URL,
MESHLET_BENCH_RUN_ID (flags win).

Exit codes (k6's): 0 ok, 99 a threshold failed, 104 bad flags or scenario file,
105 stopped by a signal, 1 anything else.
`;

/**
 * Parses argv (without the `bench` verb).
 * @example parseFlags(['http://127.0.0.1:8080/', '--rate', '50'], out, err)
 */
export function parseFlags(argv: readonly string[], writeOut: (text: string) => void, writeErr: (text: string) => void): FlagResult {
  const program = new Command('meshlet bench')
    .description('Load-test an HTTP service with autocannon, the k6 way: scenarios, checks, thresholds, a k6-shaped summary.')
    .argument('[url]', 'the URL to load, e.g. http://127.0.0.1:8080/api/products')
    .option('-s, --scenario <file>', 'a scenario file (JSON or YAML), e.g. bench/k6/scenarios/steady.json')
    .addOption(new Option('-r, --rate <n>', 'requests per second, started at a constant rate (k6 constant-arrival-rate); without it each connection sends as fast as answers come').argParser(positiveNumber))
    .addOption(new Option('-d, --duration <duration>', `how long to send, e.g. 30s or 1m30s (default ${DEFAULT_DURATION})`).argParser(durationText))
    .addOption(new Option('-c, --connections <n>', `most connections at once (k6 maxVUs) (default ${DEFAULT_CONNECTIONS})`).argParser(positiveInt))
    .addOption(new Option('-n, --requests <n>', 'send exactly n requests (k6 iterations), within --duration (default 10m)').argParser(positiveInt))
    .addOption(new Option('--stage <duration:target>', 'ramp the rate to target req/s over duration; repeat for more stages (k6 ramping-arrival-rate from --rate, or 0)').argParser(collectStage))
    .addOption(new Option('-m, --method <method>', 'HTTP method (default GET)').argParser((v: string) => v.toUpperCase()))
    .addOption(new Option('-H, --header <"name: value">', 'a request header; repeatable').argParser(collectHeader))
    .option('-b, --body <text>', 'request body')
    .addOption(new Option('--check-status <codes>', 'check the status is one of these, e.g. 200 or 200,204').argParser(statusList))
    .option('--check-body <text>', 'check the body contains text')
    .addOption(new Option('--timeout <duration>', 'per-request timeout (default 60s)').argParser(durationText))
    .addOption(new Option('--threshold <metric:expression>', "a k6 threshold, e.g. 'http_req_duration:p(95)<500'; repeatable").argParser(collectThreshold))
    .addOption(new Option('--base-url <url>', 'with --scenario: where the requests go (default: the file\'s baseUrl, else http://127.0.0.1:8080)').argParser(httpUrl))
    .addOption(new Option('--run-id <id>', 'the run id sent as baggage meshlet.run (default: <name>-<UTC time>-<random>)').argParser(runId))
    .addOption(new Option('--name <name>', 'the run\'s name when loading a URL (default "adhoc")').argParser(nameText))
    .addOption(new Option('--collector <url>', 'send run start/finish events to this OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318').argParser(httpUrl))
    .option('--summary-export <file>', 'write the k6-shaped summary JSON to file ("-" for stdout)')
    .addOption(new Option('--max-requests <n>', 'most requests the run may send, whatever the scenario says').argParser(positiveInt).default(DEFAULT_MAX_REQUESTS))
    .option('--dry-run', 'print the plan (steps and autocannon phases) as JSON and exit', false)
    .option('-q, --quiet', 'no progress line and no text summary', false)
    .option('--no-color', 'no colours in the text summary (NO_COLOR is respected too)')
    .addHelpText('after', EXAMPLES)
    .helpOption('-h, --help', 'show this help')
    .showHelpAfterError('(run `meshlet bench --help` for the flags)')
    .configureOutput({ writeOut, writeErr })
    .exitOverride();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    const exitCode = (error as CommanderError).exitCode;
    const code = (error as CommanderError).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version') return { kind: 'done', exitCode: 0 };
    return { kind: 'done', exitCode: exitCode === 0 ? 0 : 104 };
  }
  const opts = program.opts<Partial<Pick<BenchFlags, 'stage' | 'header' | 'threshold'>> & Omit<BenchFlags, 'url' | 'stage' | 'header' | 'threshold'>>();
  // Repeatable flags start empty (no commander default, so --help does not print "(default: [])").
  const flags: BenchFlags = { ...opts, stage: opts.stage ?? [], header: opts.header ?? [], threshold: opts.threshold ?? [] };
  const url = program.args[0];
  if (url !== undefined) flags.url = httpUrlOrThrow(url, 'the URL argument');
  checkCombinations(flags);
  return { kind: 'run', flags };
}

function checkCombinations(flags: BenchFlags): void {
  const bad = (message: string): never => {
    throw new BenchError('ERR_BENCH_BAD_FLAG', message);
  };
  if (flags.url === undefined && flags.scenario === undefined) bad('give a URL to load, or --scenario FILE (see --help)');
  if (flags.url !== undefined && flags.scenario !== undefined) bad('give a URL or --scenario, not both');
  if (flags.scenario !== undefined) {
    const used = [...SHAPE_FLAGS.filter((f) => flags[f] !== undefined).map(flagName), ...(flags.stage.length > 0 ? ['--stage'] : []), ...(flags.header.length > 0 ? ['--header'] : []), ...(flags.name !== undefined ? ['--name'] : [])];
    if (used.length > 0) bad(`${used.join(', ')} cannot be combined with --scenario: the scenario file says how to load; edit it (or load a URL instead)`);
  } else {
    if (flags.baseUrl !== undefined) bad('--base-url is for --scenario files; put the whole URL in the URL argument');
    if (flags.requests !== undefined && (flags.rate !== undefined || flags.stage.length > 0)) {
      bad('--requests cannot be combined with --rate or --stage: at a rate, --duration bounds the run (requests = rate × duration)');
    }
    if (flags.stage.length > 0 && flags.duration !== undefined) bad('--duration cannot be combined with --stage: the stages say how long the run lasts');
  }
}

function flagName(key: (typeof SHAPE_FLAGS)[number]): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The scenario a URL and its flags describe, in the scenario-file format. */
export function scenarioFromFlags(flags: BenchFlags): ScenarioFile {
  const url = new URL(flags.url as string);
  const method = flags.method ?? 'GET';
  const connections = flags.connections ?? DEFAULT_CONNECTIONS;
  const path = `${url.pathname}${url.search}`;
  const request: ScenarioFile['requests'][number] = { name: `${method} ${url.pathname}`, method: method as 'GET', path };
  if (flags.body !== undefined) request.body = flags.body;
  const checks: NonNullable<ScenarioFile['checks']> = {};
  if (flags.checkStatus !== undefined) checks[`status is ${flags.checkStatus.join(' or ')}`] = { status: flags.checkStatus };
  if (flags.checkBody !== undefined) checks[`body includes ${JSON.stringify(flags.checkBody)}`] = { bodyIncludes: flags.checkBody };

  type Scenario = NonNullable<NonNullable<ScenarioFile['options']>['scenarios']>[string];
  let scenario: Scenario;
  if (flags.stage.length > 0) {
    scenario = { executor: 'ramping-arrival-rate', startRate: flags.rate ?? 0, timeUnit: '1s', stages: flags.stage, preAllocatedVUs: connections, maxVUs: connections };
  } else if (flags.rate !== undefined) {
    scenario = { executor: 'constant-arrival-rate', rate: flags.rate, timeUnit: '1s', duration: flags.duration ?? DEFAULT_DURATION, preAllocatedVUs: connections, maxVUs: connections };
  } else if (flags.requests !== undefined) {
    scenario = { executor: 'shared-iterations', vus: Math.min(connections, flags.requests), iterations: flags.requests, maxDuration: flags.duration ?? '10m' };
  } else {
    scenario = { executor: 'constant-vus', vus: connections, duration: flags.duration ?? DEFAULT_DURATION };
  }
  const file: ScenarioFile = {
    name: flags.name ?? 'adhoc',
    baseUrl: url.origin,
    requests: [request],
    options: { scenarios: { default: scenario } },
  };
  if (Object.keys(checks).length > 0) file.checks = checks;
  if (flags.timeout !== undefined) file.timeout = flags.timeout;
  if (flags.header.length > 0) file.headers = Object.fromEntries(flags.header);
  return file;
}

/** `--threshold` flags grouped by metric key, as scenario files group them. */
export function thresholdsFromFlags(flags: BenchFlags): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [metric, expression] of flags.threshold) (out[metric] ??= []).push(expression);
  return out;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number greater than 0');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number greater than 0');
  return n;
}

function durationText(value: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || /^\d+(\.\d+)?$/.test(value.trim())) throw new InvalidArgumentError('expected a duration with a unit, e.g. 30s, 1m30s or 500ms');
  return value;
}

function collectStage(value: string, previous: BenchFlags['stage'] = []): BenchFlags['stage'] {
  const colon = value.lastIndexOf(':');
  const duration = value.slice(0, colon);
  const target = Number(value.slice(colon + 1));
  const ms = parseDurationMs(duration);
  if (colon < 0 || ms === undefined || ms <= 0 || !Number.isFinite(target) || target < 0) {
    throw new InvalidArgumentError('expected duration:target, e.g. 30s:200 (ramp to 200 req/s over 30 s)');
  }
  return [...previous, { duration, target }];
}

function collectHeader(value: string, previous: BenchFlags['header'] = []): BenchFlags['header'] {
  const colon = value.indexOf(':');
  const name = value.slice(0, colon).trim();
  if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new InvalidArgumentError('expected "name: value", e.g. "x-tenant: acme"');
  return [...previous, [name, value.slice(colon + 1).trim()]];
}

function collectThreshold(value: string, previous: BenchFlags['threshold'] = []): BenchFlags['threshold'] {
  // The metric may carry tags with colons of their own: http_req_duration{scenario:a}:p(95)<500.
  const close = value.indexOf('}');
  const colon = value.indexOf(':', close < 0 ? 0 : close);
  if (colon <= 0 || colon === value.length - 1) throw new InvalidArgumentError("expected metric:expression, e.g. 'http_req_duration:p(95)<500'");
  return [...previous, [value.slice(0, colon).trim(), value.slice(colon + 1).trim()]];
}

function statusList(value: string): number[] {
  const codes = value.split(',').map((s) => Number(s.trim()));
  if (codes.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) throw new InvalidArgumentError('expected HTTP status codes, e.g. 200 or 200,204');
  return codes;
}

function httpUrl(value: string): string {
  try {
    return httpUrlOrThrow(value, 'it');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function httpUrlOrThrow(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BenchError('ERR_BENCH_BAD_FLAG', `${what === 'it' ? 'expected' : `${what}: expected`} an http:// or https:// URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BenchError('ERR_BENCH_BAD_FLAG', `${what === 'it' ? 'expected' : `${what}: expected`} an http:// or https:// URL, got "${value}"`);
  }
  return value;
}

function runId(value: string): string {
  if (!RUN_ID_PATTERN.test(value)) throw new InvalidArgumentError('expected 1–128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
  return value;
}

function nameText(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) throw new InvalidArgumentError('expected letters, digits, ".", "_" or "-" (at most 64)');
  return value;
}
