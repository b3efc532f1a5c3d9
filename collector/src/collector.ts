// Wires the collector together: store, analyzer, OTLP receiver (4318), query/Jaeger/metrics/UI server
// (16686), live stream, retention and forwarding.
//
//   OTLP ─► receiver ─► store.write (group commit, WAL) ─► 200
//                         │ inserted spans                 └─► forwarder (optional)
//                         ▼
//                      analyzer (quiet traces) ─► store.saveAnalyses ─► SSE: trace, failure, graph
//   16686 ─► /api/v1/* (query API)  /api/* (Jaeger)  /metrics  / (UI)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CollectorConfig, QUERY_API, type TraceSummary } from '@meshlet/wire';
import type { Logger } from 'pino';
import { createAnalyzer, type AnalysedTrace } from './analysis/analyzer.ts';
import { FACT_ATTRIBUTES } from './analysis/facts.ts';
import { CollectorError } from './errors.ts';
import { createForwarder, type Forwarder } from './ingest/forwarder.ts';
import { createReceiver } from './ingest/otlp-receiver.ts';
import { createMetrics } from './metrics.ts';
import { type ApiContext, graphOf, handleApi } from './query/api.ts';
import { buildFailures } from './query/failures.ts';
import { handleJaeger, jaegerError } from './query/jaeger.ts';
import { buildMesh } from './query/mesh.ts';
import { Params, DEFAULT_LOOKBACK_MS } from './query/params.ts';
import { serveUi } from './query/static-ui.ts';
import { createStreamHub } from './query/stream.ts';
import { openSqliteStore } from './store/sqlite-store.ts';

export interface CollectorOptions {
  config: CollectorConfig;
  /** Directory of the built UI. */
  uiDir: string;
  log: Logger;
  version: string;
  now?: () => number;
  /** How often the analysis looks for quiet traces (default: a quarter of the quiet time, 50 ms to 1 s). */
  analysisIntervalMs?: number;
  retentionIntervalMs?: number;
}

export interface Collector {
  /** `host:port` actually bound. */
  readonly otlpAddress: string;
  readonly httpAddress: string;
  close(): Promise<void>;
}

/** Ok traces sent on the stream per second at most (failed ones always). */
const OK_TRACES_PER_SECOND = 5;
const LIVE_UPDATE_MS = 1_000;

function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(value.slice(i + 1)) };
}

function listen(server: Server, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body);
  // Read-only API: any origin may read it (the UI's dev server, Grafana in a browser).
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'access-control-allow-origin': '*',
  });
  res.end(headOnly ? undefined : text);
}

function summaryOf(a: AnalysedTrace['analysis']): TraceSummary {
  const s: TraceSummary = {
    traceId: a.traceId,
    rootService: a.root.service,
    rootOperation: a.root.name,
    startMs: a.startMs,
    durationMs: a.durationMs,
    spanCount: a.spanCount,
    errorCount: a.errorCount,
    services: a.services,
    status: a.status,
    origins: a.origins.map((o) => ({ service: o.service, operation: o.operation, reason: o.reason, spanId: o.spanId })),
  };
  if (a.run !== undefined) s.runId = a.run;
  return s;
}

export async function createCollector(options: CollectorOptions): Promise<Collector> {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const store = openSqliteStore({ dir: config.data, sync: config.sync, now });
  const analyzer = createAnalyzer({ store, quietMs: config.analysisQuiet, now });
  const hub = createStreamHub();
  // One read of the store's statistics per scrape, not one per gauge.
  let statsCache: { atMs: number; stats: ReturnType<typeof store.stats> } | null = null;
  const stats = (): ReturnType<typeof store.stats> => {
    const t = Date.now();
    if (statsCache === null || t - statsCache.atMs > 500) statsCache = { atMs: t, stats: store.stats() };
    return statsCache.stats;
  };
  const metrics = createMetrics({
    queueDepth: () => store.queuedItems,
    analysisLagSeconds: () => analyzer.lagMs / 1000,
    storeSpans: () => stats().spans,
    storeTraces: () => stats().traces,
    storeBytes: () => stats().usedBytes,
    streamClients: () => hub.clients,
  });
  const forwarder: Forwarder | null = config.forward === null ? null : createForwarder({ url: config.forward, metrics, log });
  let meshDirty = false;
  let graphDirty = false;

  const receiver = createReceiver({
    store,
    metrics,
    log,
    maxBodyBytes: config.maxBody,
    maxQueuedItems: config.maxQueue,
    maxInFlightBytes: Math.max(config.maxBody * 4, 64 * 1024 * 1024),
    retryAfterSeconds: 2,
    // The analysis is the only reader of the stored spans' records.
    spanAttributeKeys: FACT_ATTRIBUTES,
    onStored(signal, result, body, contentType, logs) {
      if (signal === 'traces') analyzer.observe(result.insertedSpans);
      else if (logs.some((l) => l.eventName !== '' || l.attributes['event.name'] !== undefined)) meshDirty = true;
      forwarder?.enqueue(signal, contentType, body);
    },
  });

  const ctx: ApiContext = {
    reader: store,
    now,
    version: options.version,
    queueDepth: () => store.queuedItems,
    analysisLagMs: () => analyzer.lagMs,
  };

  // ---- analysis and live updates ----
  let okBudget = OK_TRACES_PER_SECOND;
  function publishAnalysed(done: AnalysedTrace[]): void {
    if (done.length === 0) return;
    graphDirty = true;
    const pointIds = new Set<string>();
    for (const t of done) {
      metrics.tracesAnalysed.inc({ kind: t.reanalysed ? 'late' : 'first' });
      for (const id of Object.keys(t.contribution.points)) pointIds.add(id);
      if (hub.clients === 0) continue;
      if (t.analysis.status === 'error') hub.publish('trace', summaryOf(t.analysis));
      else if (okBudget > 0) {
        okBudget--;
        hub.publish('trace', summaryOf(t.analysis));
      }
    }
    if (hub.clients > 0 && pointIds.size > 0) {
      const t = now();
      for (const point of buildFailures(store, { from: t - DEFAULT_LOOKBACK_MS, to: t }, { ids: pointIds, limit: pointIds.size })) {
        hub.publish('failure', point);
      }
    }
  }

  let analysing = false;
  function analyse(): void {
    if (analysing) return;
    analysing = true;
    try {
      const done = analyzer.step();
      publishAnalysed(done);
      // More waiting: continue after pending I/O (ingest keeps priority).
      if (done.length > 0 && analyzer.lagMs > 0) setImmediate(analyse);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'analysis failed');
    } finally {
      analysing = false;
    }
  }
  const analysisTimer = setInterval(analyse, options.analysisIntervalMs ?? Math.min(1_000, Math.max(50, config.analysisQuiet / 4)));

  let lastGraph = '';
  let lastMesh = '';
  const liveTimer = setInterval(() => {
    okBudget = OK_TRACES_PER_SECOND;
    if (hub.clients === 0) return;
    try {
      if (graphDirty) {
        graphDirty = false;
        const graph = graphOf(ctx, new Params(new URLSearchParams()));
        const key = JSON.stringify({ nodes: graph.nodes, edges: graph.edges });
        if (key !== lastGraph) {
          lastGraph = key;
          hub.publish('graph', graph);
        }
      }
      if (meshDirty) {
        meshDirty = false;
        const mesh = buildMesh(store, now());
        const key = JSON.stringify(mesh.pods.map((p) => ({ ...p, lastReportMs: 0, cpuSeconds: 0, cpuCores: 0, memoryBytes: 0 })));
        if (key !== lastMesh) {
          lastMesh = key;
          hub.publish('mesh', mesh);
        }
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'live update failed');
    }
  }, LIVE_UPDATE_MS);

  function prune(): void {
    try {
      const removed = store.prune({ maxAgeMs: config.retentionAge, maxBytes: config.retentionSize, nowMs: now() });
      if (removed.spans + removed.logs > 0) log.info(removed, 'retention removed old data');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'retention failed');
    }
  }
  const retentionTimer = setInterval(prune, options.retentionIntervalMs ?? 30_000);

  // ---- servers ----
  const otlpServer = createServer({ requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 65_000 }, (req, res) => receiver.handle(req, res));
  const httpServer = createServer({ requestTimeout: 0, headersTimeout: 20_000 }, (req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      log.error({ err: (err as Error).message, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error', code: 'ERR_COLLECTOR_STORE' });
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://collector');
    const path = url.pathname;
    const headOnly = req.method === 'HEAD';
    if (req.method !== 'GET' && !headOnly) {
      sendJson(res, 405, { error: `${req.method} is not allowed; the collector's HTTP API is read-only (GET)`, code: 'ERR_COLLECTOR_METHOD_NOT_ALLOWED' });
      return;
    }
    if (path === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(headOnly ? undefined : text);
      return;
    }
    if (path === QUERY_API.stream) {
      hub.attach(req, res);
      return;
    }
    if (path.startsWith('/api/v1/')) {
      try {
        const result = handleApi(ctx, path, url.searchParams);
        if (result === null) sendJson(res, 404, { error: `no API at ${path}`, code: 'ERR_COLLECTOR_NOT_FOUND' }, headOnly);
        else sendJson(res, result[0], result[1], headOnly);
      } catch (err) {
        if (!(err instanceof CollectorError)) throw err;
        const body: { error: string; code: string; param?: string } = { error: err.message, code: err.code };
        if (err.param !== undefined) body.param = err.param;
        sendJson(res, err.status, body, headOnly);
      }
      return;
    }
    if (path.startsWith('/api/')) {
      try {
        const result = handleJaeger(store, path, url.searchParams, now());
        if (result === null) sendJson(res, 404, jaegerError(404, `no API at ${path}`), headOnly);
        else sendJson(res, result[0], result[1], headOnly);
      } catch (err) {
        if (!(err instanceof CollectorError)) throw err;
        sendJson(res, err.status, jaegerError(err.status, err.message), headOnly);
      }
      return;
    }
    await serveUi(options.uiDir, path, res, headOnly);
  }

  let otlpAddress: string;
  let httpAddress: string;
  try {
    otlpAddress = await listen(otlpServer, config.otlp);
    httpAddress = await listen(httpServer, config.http);
  } catch (err) {
    clearInterval(analysisTimer);
    clearInterval(liveTimer);
    clearInterval(retentionTimer);
    hub.close();
    otlpServer.close();
    httpServer.close();
    await store.close();
    throw new CollectorError('ERR_COLLECTOR_CONFIG', `cannot listen: ${(err as Error).message}`);
  }
  // Analyse what a previous run left pending, and apply retention, right away.
  setImmediate(analyse);
  setImmediate(prune);

  let closing: Promise<void> | null = null;
  return {
    otlpAddress,
    httpAddress,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(analysisTimer);
        clearInterval(liveTimer);
        clearInterval(retentionTimer);
        hub.close();
        // Stop accepting; requests in flight finish (their writes are committed before close()).
        await Promise.all([
          new Promise<void>((r) => otlpServer.close(() => r())),
          new Promise<void>((r) => httpServer.close(() => r())),
          new Promise<void>((r) => {
            otlpServer.closeIdleConnections();
            httpServer.closeAllConnections();
            r();
          }),
        ]);
        await forwarder?.close();
        await store.close();
      })();
      return closing;
    },
  };
}
