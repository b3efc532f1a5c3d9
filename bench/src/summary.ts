// The end-of-test summary: k6's `handleSummary(data)` object (same keys, metric names and value
// shapes, so tools that read k6's JSON read ours), and a compact text version for people.
import { createHash } from 'node:crypto';
import { styleText } from 'node:util';
import type { SummaryMetric, ThresholdResult } from './metrics.ts';
import type { AbortReason, RunOutcome } from './runner.ts';

/** k6's summary data, plus a `meshlet` key that ties it to the run. */
export interface K6Summary {
  root_group: {
    name: string;
    path: string;
    id: string;
    groups: never[];
    checks: { name: string; path: string; id: string; passes: number; fails: number }[];
  };
  options: { summaryTrendStats: string[]; summaryTimeUnit: string; noColor: boolean };
  state: { isStdOutTTY: boolean; isStdErrTTY: boolean; testRunDurationMs: number };
  metrics: Record<string, SummaryMetric>;
  meshlet: {
    runId: string;
    name: string;
    target: string;
    startedAt: string;
    endedAt: string;
    thresholdsPassed: boolean;
    aborted?: AbortReason;
    interruptedRequests: number;
  };
}

export interface SummaryInput {
  outcome: RunOutcome;
  results: readonly ThresholdResult[];
  trendStats: readonly string[];
  runId: string;
  name: string;
  target: string;
  noColor: boolean;
  isStdOutTTY: boolean;
  isStdErrTTY: boolean;
}

/** k6 ids groups and checks by the md5 of their path (lib/models.go). */
function pathId(path: string): string {
  return createHash('md5').update(path).digest('hex');
}

export function buildSummary(input: SummaryInput): K6Summary {
  const { outcome } = input;
  const summary: K6Summary = {
    root_group: {
      name: '',
      path: '',
      id: pathId(''),
      groups: [],
      checks: outcome.checks.map((c) => ({ name: c.name, path: `::${c.name}`, id: pathId(`::${c.name}`), passes: c.passes, fails: c.fails })),
    },
    options: { summaryTrendStats: [...input.trendStats], summaryTimeUnit: '', noColor: input.noColor },
    state: { isStdOutTTY: input.isStdOutTTY, isStdErrTTY: input.isStdErrTTY, testRunDurationMs: outcome.durationMs },
    metrics: outcome.metrics.summary(outcome.durationMs, input.trendStats, input.results),
    meshlet: {
      runId: input.runId,
      name: input.name,
      target: input.target,
      startedAt: new Date(outcome.startedAtMs).toISOString(),
      endedAt: new Date(outcome.endedAtMs).toISOString(),
      thresholdsPassed: input.results.every((r) => r.ok),
      interruptedRequests: outcome.interruptedRequests,
    },
  };
  if (outcome.aborted !== undefined) summary.meshlet.aborted = outcome.aborted;
  return summary;
}

const GROUPS: readonly [string, readonly string[]][] = [
  ['HTTP', ['http_req_duration', 'http_req_failed', 'http_reqs']],
  ['EXECUTION', ['dropped_iterations', 'iteration_duration', 'iterations', 'vus', 'vus_max']],
  ['NETWORK', ['data_received', 'data_sent']],
];
const WIDTH = 36;

/** The text summary, in the layout of k6's compact end-of-test summary. */
export function formatSummary(summary: K6Summary, results: readonly ThresholdResult[], options: { color: boolean }): string {
  const paint = (format: Parameters<typeof styleText>[0], text: string): string => (options.color ? styleText(format, text, { validateStream: false }) : text);
  const ok = (pass: boolean): string => (pass ? paint('green', '✓') : paint('red', '✗'));
  const lines: string[] = [];
  const { meshlet } = summary;
  lines.push('', `  meshlet bench · ${meshlet.name} · run ${meshlet.runId} → ${meshlet.target}`);
  if (meshlet.aborted !== undefined) lines.push(paint('yellow', `  aborted: ${ABORT_TEXT[meshlet.aborted]}`));

  if (results.length > 0) {
    lines.push('', '  █ THRESHOLDS', '');
    const bySeries = Map.groupBy(results, (r) => r.series);
    for (const [series, list] of bySeries) {
      const metric = summary.metrics[series] as SummaryMetric;
      lines.push(`    ${series}`);
      for (const r of list) lines.push(`    ${ok(r.ok)} '${r.source}' ${r.statistic}=${formatValue(metric, r.statistic, r.observed)}`);
      lines.push('');
    }
  } else {
    lines.push('');
  }

  lines.push('  █ TOTAL RESULTS', '');
  const checks = summary.metrics.checks;
  if (checks !== undefined) {
    const { passes = 0, fails = 0 } = checks.values;
    const total = passes + fails;
    const seconds = summary.state.testRunDurationMs / 1000;
    lines.push(`    ${dots('checks_total')} ${pad(String(total), 8)}${(seconds > 0 ? total / seconds : 0).toFixed(6)}/s`);
    lines.push(`    ${dots('checks_succeeded')} ${pad(percent(total === 0 ? 0 : passes / total), 8)}${passes} out of ${total}`);
    lines.push(`    ${dots('checks_failed')} ${pad(percent(total === 0 ? 0 : fails / total), 8)}${fails} out of ${total}`, '');
    for (const check of summary.root_group.checks) {
      lines.push(`    ${ok(check.fails === 0)} ${check.name}${check.fails === 0 ? '' : paint('red', `  ↳ ${percent(check.passes / (check.passes + check.fails))} — ✓ ${check.passes} / ✗ ${check.fails}`)}`);
    }
    lines.push('');
  }
  const shown = new Set(['checks']);
  for (const [group, names] of GROUPS) {
    const rows: string[] = [];
    for (const name of names) {
      for (const [key, metric] of Object.entries(summary.metrics)) {
        if (key !== name && !key.startsWith(`${name}{`)) continue;
        shown.add(key);
        const label = key === name ? name : `  { ${key.slice(name.length + 1, -1).replaceAll(',', ', ')} }`;
        rows.push(`    ${dots(label)} ${formatMetric(metric, summary.state.testRunDurationMs)}`);
      }
    }
    if (rows.length > 0) lines.push(`    ${group}`, ...rows, '');
  }
  const custom = Object.entries(summary.metrics).filter(([key]) => !shown.has(key));
  if (custom.length > 0) {
    lines.push('    CUSTOM');
    for (const [key, metric] of custom) lines.push(`    ${dots(key)} ${formatMetric(metric, summary.state.testRunDurationMs)}`);
    lines.push('');
  }
  if (meshlet.interruptedRequests > 0) lines.push(`    ${meshlet.interruptedRequests} request(s) still in flight at the end were abandoned`, '');
  if (!meshlet.thresholdsPassed) lines.push(paint('red', '  thresholds failed (exit code 99)'), '');
  return lines.join('\n');
}

const ABORT_TEXT: Readonly<Record<AbortReason, string>> = {
  signal: 'stopped by a signal before the end of the plan',
  threshold: 'a threshold with abortOnFail failed',
  'max-requests': 'the run reached --max-requests',
};

function dots(label: string): string {
  return label.length >= WIDTH ? `${label}:` : `${label}${'.'.repeat(WIDTH - label.length)}:`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

function formatMetric(metric: SummaryMetric, durationMs: number): string {
  const v = metric.values;
  const seconds = durationMs / 1000;
  switch (metric.type) {
    case 'trend':
      return Object.entries(v)
        .map(([stat, value]) => `${stat}=${formatValue(metric, stat, value)}`)
        .join(' ');
    case 'rate': {
      const passes = v.passes ?? 0;
      const total = passes + (v.fails ?? 0);
      return `${pad(percent(v.rate ?? 0), 8)}${passes} out of ${total}`;
    }
    case 'counter':
      return metric.contains === 'data'
        ? `${pad(bytes(v.count ?? 0), 8)}${bytes(seconds > 0 ? (v.count ?? 0) / seconds : 0)}/s`
        : `${pad(String(v.count ?? 0), 8)}${(v.rate ?? 0).toFixed(6)}/s`;
    case 'gauge':
      return `${pad(String(v.value ?? 0), 8)}min=${v.min ?? 0} max=${v.max ?? 0}`;
  }
}

function formatValue(metric: SummaryMetric, statistic: string, value: number): string {
  if (metric.type === 'trend' && metric.contains === 'time' && statistic !== 'count') return milliseconds(value);
  if (metric.type === 'rate') return percent(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(6);
}

/** k6 prints times with units: 950µs, 12.31ms, 1.2s. */
function milliseconds(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${Number(ms.toFixed(2))}ms`;
  return `${Number((ms / 1000).toFixed(2))}s`;
}

function bytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${Number((n / 1e3).toFixed(1))} kB`;
  if (n < 1e9) return `${Number((n / 1e6).toFixed(1))} MB`;
  return `${Number((n / 1e9).toFixed(1))} GB`;
}
