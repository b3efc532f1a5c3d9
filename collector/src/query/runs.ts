// Load-test runs: from traces carrying `meshlet.run` (baggage copied to spans), per second, plus the
// `meshlet.loadtest.started/finished` events `meshlet bench` sends.
import { INFRA_EVENTS, LOADTEST_ATTR, type RunDetail, type RunSummary, ATTR } from '@meshlet/wire';
import { latencyStats } from '../analysis/histogram.ts';
import { addInto, type Counters, map, n } from '../analysis/merge.ts';
import { boolAttr, numberAttr, stringAttr } from '../otlp/model.ts';
import type { TraceReader } from '../store/store.ts';
import { buildFailures } from './failures.ts';
import { buildGraph } from './graph.ts';

/** A run's series has at most this many points. */
const MAX_SERIES_POINTS = 300;

interface RunInfo {
  total: Counters;
  seconds: Map<number, Counters>;
  name?: string;
  thresholdsPassed?: boolean;
  startedMs?: number;
  finishedMs?: number;
  eventRequests?: number;
  eventErrors?: number;
}

function collect(reader: TraceReader, runId?: string): Map<string, RunInfo> {
  const runs = new Map<string, RunInfo>();
  const get = (id: string): RunInfo => {
    let r = runs.get(id);
    if (r === undefined) runs.set(id, (r = { total: {}, seconds: new Map() }));
    return r;
  };
  for (const row of reader.aggregates('run', 0, Number.MAX_SAFE_INTEGER, runId)) {
    const r = get(row.key);
    addInto(r.total, row.data);
    r.seconds.set(row.bucketMs, row.data);
  }
  for (const eventName of [INFRA_EVENTS.loadTestStarted, INFRA_EVENTS.loadTestFinished]) {
    for (const l of reader.logs({ eventName, fromMs: 0, toMs: Number.MAX_SAFE_INTEGER, limit: 10_000, ascending: true })) {
      const id = stringAttr(l.attributes, ATTR.run);
      if (id === undefined || (runId !== undefined && id !== runId)) continue;
      const r = get(id);
      r.name = stringAttr(l.attributes, LOADTEST_ATTR.name) ?? r.name;
      if (eventName === INFRA_EVENTS.loadTestStarted) r.startedMs = l.timeMs;
      else {
        r.finishedMs = l.timeMs;
        r.thresholdsPassed = boolAttr(l.attributes, LOADTEST_ATTR.thresholdsPassed) ?? r.thresholdsPassed;
        r.eventRequests = numberAttr(l.attributes, LOADTEST_ATTR.requests);
        r.eventErrors = numberAttr(l.attributes, LOADTEST_ATTR.errors);
      }
    }
  }
  return runs;
}

function summaryOf(runId: string, r: RunInfo): RunSummary {
  const firstMs = r.total.firstMs as number | undefined;
  const lastMs = r.total.lastMs as number | undefined;
  const startMs = Math.min(firstMs ?? Infinity, r.startedMs ?? Infinity);
  const endMs = Math.max(lastMs ?? -Infinity, r.finishedMs ?? -Infinity);
  const spanRequests = n(r.total, 'requests');
  // Without spans (a target outside the mesh) the run's own counts from its finished event are all there is.
  const requests = spanRequests > 0 ? spanRequests : (r.eventRequests ?? 0);
  const errors = spanRequests > 0 ? n(r.total, 'errors') : (r.eventErrors ?? 0);
  const start = Number.isFinite(startMs) ? startMs : 0;
  const end = Number.isFinite(endMs) ? endMs : start;
  const summary: RunSummary = {
    runId,
    startMs: start,
    endMs: end,
    requests,
    errors,
    ratePerSecond: Math.round((requests / Math.max(1, (end - start) / 1000)) * 100) / 100,
    ...latencyStats(map(r.total, 'hist')),
  };
  if (r.name !== undefined) summary.name = r.name;
  if (r.thresholdsPassed !== undefined) summary.thresholdsPassed = r.thresholdsPassed;
  return summary;
}

export function listRuns(reader: TraceReader): RunSummary[] {
  return [...collect(reader)].map(([id, r]) => summaryOf(id, r)).sort((a, b) => b.startMs - a.startMs);
}

/** The [start, end] of a run, for windows given by run id. */
export function runExtent(reader: TraceReader, runId: string): { from: number; to: number } | undefined {
  const r = collect(reader, runId).get(runId);
  if (r === undefined) return undefined;
  const s = summaryOf(runId, r);
  return { from: s.startMs, to: s.endMs + 1 };
}

export function runDetail(reader: TraceReader, runId: string, baselineId?: string): RunDetail | null {
  const r = collect(reader, runId).get(runId);
  if (r === undefined) return null;
  const run = summaryOf(runId, r);
  const seconds = [...r.seconds.keys()].sort((a, b) => a - b);
  const stepMs = Math.max(1000, Math.ceil((run.endMs - run.startMs) / MAX_SERIES_POINTS / 1000) * 1000);
  const series: RunDetail['series'] = [];
  const buckets = new Map<number, Counters>();
  for (const t of seconds) {
    const key = Math.floor((t - Math.floor(run.startMs / 1000) * 1000) / stepMs);
    let acc = buckets.get(key);
    if (acc === undefined) buckets.set(key, (acc = {}));
    addInto(acc, r.seconds.get(t) as Counters);
  }
  for (const [key, acc] of [...buckets].sort((a, b) => a[0] - b[0])) {
    const stats = latencyStats(map(acc, 'hist'));
    series.push({ tMs: Math.floor(run.startMs / 1000) * 1000 + key * stepMs, requests: n(acc, 'requests'), errors: n(acc, 'errors'), ...stats });
  }
  const window = { from: run.startMs, to: run.endMs + 1, run: runId };
  const detail: RunDetail = {
    run,
    series,
    errorsByReason: map(r.total, 'reasons'),
    graph: buildGraph(reader, window),
    failures: buildFailures(reader, window),
  };
  if (baselineId !== undefined) {
    const b = collect(reader, baselineId).get(baselineId);
    if (b !== undefined) {
      const baseline = summaryOf(baselineId, b);
      const rate = (s: RunSummary): number => (s.requests === 0 ? 0 : s.errors / s.requests);
      detail.diff = {
        baseline,
        p50DeltaMs: Math.round((run.p50Ms - baseline.p50Ms) * 1000) / 1000,
        p99DeltaMs: Math.round((run.p99Ms - baseline.p99Ms) * 1000) / 1000,
        errorRateDelta: Math.round((rate(run) - rate(baseline)) * 10_000) / 10_000,
        rateDelta: Math.round((run.ratePerSecond - baseline.ratePerSecond) * 100) / 100,
      };
    }
  }
  return detail;
}
