// The query API of wire/query-api.ts (`/api/v1/...`), as plain request → [status, body] handlers.
import {
  type CollectorHealth,
  FAILURE_REASONS,
  type FailuresResponse,
  type GraphResponse,
  type LogsResponse,
  type RunsResponse,
  type ServicesResponse,
  type TraceSearchResponse,
} from '@meshlet/wire';
import { CollectorError } from '../errors.ts';
import type { TraceQuery, TraceReader } from '../store/store.ts';
import { buildFailures } from './failures.ts';
import { buildGraph } from './graph.ts';
import { buildMesh, podsByService } from './mesh.ts';
import { Params, windowOf } from './params.ts';
import { listRuns, runDetail, runExtent } from './runs.ts';
import { logView, traceDetail, traceSummary } from './views.ts';

export interface ApiContext {
  reader: TraceReader;
  now: () => number;
  version: string;
  queueDepth: () => number;
  analysisLagMs: () => number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;

function notFound(what: string): CollectorError {
  return new CollectorError('ERR_COLLECTOR_NOT_FOUND', what);
}

export function graphOf(ctx: ApiContext, p: Params): GraphResponse {
  const w = windowOf(p, ctx.now(), (run) => runExtent(ctx.reader, run));
  const pods = podsByService(buildMesh(ctx.reader, ctx.now()));
  return buildGraph(ctx.reader, w, (s) => pods.get(s) ?? 0);
}

/** Answers `/api/v1/*` (except the stream); throws `CollectorError` for 4xx. Returns null for unknown paths. */
export function handleApi(ctx: ApiContext, path: string, search: URLSearchParams): [number, unknown] | null {
  const p = new Params(search);
  const reader = ctx.reader;
  switch (path) {
    case '/api/v1/services': {
      const body: ServicesResponse = {
        services: reader.services().map((s) => ({
          name: s.name,
          operations: [...new Set(s.operations.sort((a, b) => b.count - a.count).map((o) => o.name))],
          versions: s.versions,
          lastSeenMs: s.lastSeenMs,
        })),
      };
      return [200, body];
    }
    case '/api/v1/graph':
      return [200, graphOf(ctx, p)];
    case '/api/v1/failures': {
      const w = windowOf(p, ctx.now(), (run) => runExtent(reader, run));
      const filter: Parameters<typeof buildFailures>[2] = { limit: p.limit('limit', 50, 500) };
      const service = p.string('service');
      if (service !== undefined) filter.service = service;
      const reason = p.oneOf('reason', FAILURE_REASONS);
      if (reason !== undefined) filter.reason = reason;
      const body: FailuresResponse = { window: { from: w.from, to: w.to }, points: buildFailures(reader, w, filter) };
      return [200, body];
    }
    case '/api/v1/traces': {
      const w = windowOf(p, ctx.now());
      const q: TraceQuery = { fromMs: w.from, toMs: w.to + 0.001, limit: p.limit('limit', 50, 1000) };
      const set = <K extends keyof TraceQuery>(key: K, value: TraceQuery[K] | undefined): void => {
        if (value !== undefined) q[key] = value;
      };
      set('service', p.string('service'));
      set('operation', p.string('operation'));
      set('status', p.oneOf('status', ['ok', 'error'] as const));
      set('originService', p.string('originService'));
      set('reason', p.oneOf('reason', FAILURE_REASONS));
      set('minDurationMs', p.durationMs('minDurationMs'));
      set('maxDurationMs', p.durationMs('maxDurationMs'));
      set('run', w.run);
      const attrs = p.attributes('attr');
      if (attrs.length > 0) q.attributes = attrs;
      const result = reader.searchTraces(q);
      const body: TraceSearchResponse = { traces: result.traces.map(traceSummary), truncated: result.truncated };
      return [200, body];
    }
    case '/api/v1/logs': {
      const w = windowOf(p, ctx.now());
      const q: Parameters<TraceReader['logs']>[0] = { fromMs: w.from, toMs: w.to + 1, limit: p.limit('limit', 200, 5000) };
      const service = p.string('service');
      if (service !== undefined) q.service = service;
      const pod = p.string('pod');
      if (pod !== undefined) q.pod = pod;
      const traceId = p.string('traceId');
      if (traceId !== undefined) {
        if (!TRACE_ID.test(traceId)) throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `traceId: expected 32 lowercase hex digits, got "${traceId}"`, 'traceId');
        q.traceId = traceId;
        // A trace's logs are wanted whenever they were written.
        if (p.string('from') === undefined && p.string('lookbackMs') === undefined) q.fromMs = 0;
      }
      const eventName = p.string('eventName');
      if (eventName !== undefined) q.eventName = eventName;
      const severityMin = p.number('severityMin', { min: 0, max: 24, integer: true });
      if (severityMin !== undefined) q.severityMin = severityMin;
      const body: LogsResponse = { logs: reader.logs(q).map(logView) };
      return [200, body];
    }
    case '/api/v1/mesh':
      return [200, buildMesh(reader, ctx.now())];
    case '/api/v1/runs': {
      const body: RunsResponse = { runs: listRuns(reader) };
      return [200, body];
    }
    case '/api/v1/health': {
      const stats = reader.stats();
      const body: CollectorHealth = {
        ok: true,
        spansStored: stats.spans,
        tracesStored: stats.traces,
        queueDepth: ctx.queueDepth(),
        analysisLagMs: ctx.analysisLagMs(),
        oldestSpanMs: stats.oldestSpanMs,
        newestSpanMs: stats.newestSpanMs,
        version: ctx.version,
      };
      return [200, body];
    }
    default:
  }
  const trace = /^\/api\/v1\/traces\/([^/]+)$/.exec(path);
  if (trace !== null) {
    const id = decodeURIComponent(trace[1] as string).toLowerCase();
    if (!TRACE_ID.test(id)) throw new CollectorError('ERR_COLLECTOR_BAD_PARAM', `traceId: expected 32 hex digits, got "${id}"`, 'traceId');
    const detail = traceDetail(reader, id);
    if (detail === null) throw notFound(`trace ${id} not found`);
    return [200, detail];
  }
  const run = /^\/api\/v1\/runs\/([^/]+)$/.exec(path);
  if (run !== null) {
    const id = decodeURIComponent(run[1] as string);
    const detail = runDetail(reader, id, p.string('baseline'));
    if (detail === null) throw notFound(`load-test run ${id} not found`);
    if (p.string('baseline') !== undefined && detail.diff === undefined) throw notFound(`baseline run ${p.string('baseline')} not found`);
    return [200, detail];
  }
  return null;
}
