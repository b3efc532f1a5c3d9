// `meshlet bench`: the only file of bench/ with side effects (reads argv, env and files, handles
// signals, writes stdout/stderr, sets the exit code). See `meshlet bench --help`.
import { readFile, writeFile } from 'node:fs/promises';
import { formatSpecProblems } from '@meshlet/wire';
import pkg from '../package.json' with { type: 'json' };
import { newRunId, RUN_ID_PATTERN } from './baggage.ts';
import { BenchError, EXIT } from './errors.ts';
import type { RunEvents, RunIdentity } from './events.ts';
import { parseFlags, scenarioFromFlags, thresholdsFromFlags, type BenchFlags } from './flags.ts';
import { planLoadTest, type Plan } from './plan.ts';
import type { Progress } from './runner.ts';
import { parseScenarioFile, validateScenario, type LoadTest, type LoadTestResult } from './scenario.ts';
import { buildSummary, formatSummary } from './summary.ts';

const USER_AGENT = `meshlet-bench/${pkg.version} (autocannon)`;

export async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await bench(argv);
  } catch (error) {
    if (error instanceof BenchError) {
      process.stderr.write(`meshlet bench: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`meshlet bench: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.failure;
    }
  }
}

async function bench(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
  if (parsed.kind === 'done') return parsed.exitCode;
  const flags = parsed.flags;
  const env = process.env;
  const test = await loadTest(flags, env.MESHLET_BENCH_BASE_URL);
  const plan = planLoadTest(test, { maxRequests: flags.maxRequests });
  if (flags.dryRun) {
    process.stdout.write(`${JSON.stringify({ test: { ...test, requests: test.requests.map((r) => ({ ...r, checks: r.checks.map((c) => c.name) })) }, plan }, null, 2)}\n`);
    return EXIT.ok;
  }

  const envRunId = nonEmpty(env.MESHLET_BENCH_RUN_ID);
  if (envRunId !== undefined && !RUN_ID_PATTERN.test(envRunId)) {
    throw new BenchError('ERR_BENCH_BAD_FLAG', `MESHLET_BENCH_RUN_ID: expected 1–128 letters, digits, ".", "_", ":" or "-", got "${envRunId}"`);
  }
  const runId = flags.runId ?? envRunId ?? newRunId(test.name);
  const identity: RunIdentity = { runId, name: test.name, target: test.baseUrl };
  // Last, the OpenTelemetry SDKs' own variable: a run inside a mesh pod (the demo shop's shopper) finds
  // the collector the runtime gives every app.
  const collector = flags.collector ?? envUrl('MESHLET_BENCH_COLLECTOR', env.MESHLET_BENCH_COLLECTOR) ?? envUrl('OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const color = flags.color && process.stderr.isTTY && env.NO_COLOR === undefined;
  const say = (line: string): void => {
    if (!flags.quiet) process.stderr.write(`${line}\n`);
  };

  // The OpenTelemetry exporter and autocannon load only when a run needs them: --help and bad flags stay quick.
  let events: RunEvents | undefined;
  if (collector !== undefined) {
    const { createRunEvents } = await import('./events.ts');
    const warned = new Set<string>();
    events = createRunEvents({
      collectorUrl: collector,
      version: pkg.version,
      onExportFailure: (eventName, error) => {
        // Telemetry never fails the run; say once per event what could not be delivered.
        if (warned.has(eventName)) return;
        warned.add(eventName);
        process.stderr.write(`meshlet bench: could not send ${eventName} to ${collector}: ${error.message}\n`);
      },
    });
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      say(`\n${signal}: stopping (requests in flight get 2 s to finish; again to quit at once)`);
      controller.abort();
    } else {
      process.exit(EXIT.externalAbort);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  say(describePlan(test, plan, runId));

  const { runLoadTest } = await import('./runner.ts');
  const showProgress = !flags.quiet && process.stderr.isTTY;
  events?.started(identity, Date.now());
  let outcome;
  try {
    outcome = await runLoadTest({
      test,
      plan,
      runId,
      maxRequests: flags.maxRequests,
      signal: controller.signal,
      ...(showProgress ? { onProgress: (p: Progress) => process.stderr.write(`\r\x1b[2K${progressLine(p)}`) } : {}),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (showProgress) process.stderr.write('\r\x1b[2K');
  }

  const results = outcome.metrics.evaluate(outcome.durationMs);
  const summary = buildSummary({
    outcome,
    results,
    trendStats: test.trendStats,
    runId,
    name: test.name,
    target: test.baseUrl,
    noColor: !color,
    isStdOutTTY: process.stdout.isTTY === true,
    isStdErrTTY: process.stderr.isTTY === true,
  });
  const json = JSON.stringify(summary, null, 2);
  say(formatSummary(summary, results, { color }));
  await writeSummary(flags, json);

  if (events !== undefined) {
    const requests = outcome.metrics.stat('http_reqs', 'count', outcome.durationMs) ?? 0;
    const errors = summary.metrics.http_req_failed?.values.passes ?? 0;
    events.finished(identity, { requests, errors, thresholdsPassed: summary.meshlet.thresholdsPassed, summaryJson: JSON.stringify(summary) }, outcome.endedAtMs);
    await events.close();
  }
  if (!summary.meshlet.thresholdsPassed) return EXIT.thresholdsFailed;
  if (outcome.aborted === 'signal') return EXIT.externalAbort;
  return EXIT.ok;
}

async function loadTest(flags: BenchFlags, envBaseUrl: string | undefined): Promise<LoadTest> {
  const options = { userAgent: USER_AGENT, extraThresholds: thresholdsFromFlags(flags) };
  let result: LoadTestResult;
  let source: string;
  if (flags.scenario !== undefined) {
    source = flags.scenario;
    let text: string;
    try {
      text = await readFile(flags.scenario, 'utf8');
    } catch (error) {
      throw new BenchError('ERR_BENCH_SCENARIO_UNREADABLE', `cannot read scenario file ${flags.scenario}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const baseUrl = flags.baseUrl ?? envUrl('MESHLET_BENCH_BASE_URL', envBaseUrl);
    result = parseScenarioFile(text, baseUrl === undefined ? options : { ...options, baseUrl });
  } else {
    source = 'command line';
    result = validateScenario(scenarioFromFlags(flags), options);
  }
  if (!result.ok) {
    const count = result.problems.length;
    throw new BenchError('ERR_BENCH_BAD_SCENARIO', `${count} problem${count === 1 ? '' : 's'} in ${source}:\n${formatSpecProblems(result.problems, source)}`);
  }
  return result.test;
}

async function writeSummary(flags: BenchFlags, json: string): Promise<void> {
  const target = flags.summaryExport ?? (process.stdout.isTTY ? undefined : '-');
  if (target === undefined) return;
  if (target === '-') {
    await new Promise<void>((resolve, reject) => process.stdout.write(`${json}\n`, (error) => (error ? reject(error) : resolve())));
    return;
  }
  try {
    await writeFile(target, `${json}\n`);
  } catch (error) {
    throw new BenchError('ERR_BENCH_SUMMARY_WRITE', `cannot write the summary to ${target}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function describePlan(test: LoadTest, plan: Plan, runId: string): string {
  const scenarios = plan.scenarios.map((s) => `${s.name} (${s.executor})`).join(', ');
  const planned = plan.plannedRequests > 0 ? `, ${plan.plannedRequests} requests planned at arrival rates` : '';
  return `meshlet bench: ${test.name} → ${test.baseUrl}, run ${runId}\n  scenarios: ${scenarios}; ${(plan.durationMs / 1000).toFixed(1)} s, up to ${plan.maxConnections} connections${planned}`;
}

function progressLine(p: Progress): string {
  const seconds = p.elapsedMs / 1000;
  return `  running ${seconds.toFixed(0)}s/${(p.plannedMs / 1000).toFixed(0)}s  ${p.requests} requests (${(seconds > 0 ? p.requests / seconds : 0).toFixed(1)}/s)  ${p.failed} failed  ${p.activeConnections} connections`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function envUrl(name: string, value: string | undefined): string | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
    throw new BenchError('ERR_BENCH_BAD_FLAG', `${name}: expected an http:// or https:// URL, got "${text}"`);
  }
  return text;
}
