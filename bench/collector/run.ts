// Collector benchmark: realistic shop traces (5-10 spans, sidecar attributes) sent through the real
// OTLP/HTTP protobuf path to a `meshlet collector` process pinned to one core, side by side with a
// baseline that only reads and discards the same requests on the same core.
//
//   node bench/collector/run.ts [--spans 1000000] [--seconds 90] [--concurrency 8] [--sync full|normal]
//                               [--analysis-quiet 2s] [--templates 200] [--queries 100] [--meshlet PATH]
//
// Reports: sustained acknowledged spans/s (durably stored), ack latency p50/p99, the collector's peak RSS,
// the time the analysis needs to catch up, and graph / failure-point query latency over the whole store.
// Writes bench/results/collector-<time>.json and prints a Markdown table.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeTraceRequest } from '../../collector/src/otlp/encode.ts';
import type { SpanRecord } from '../../collector/src/otlp/model.ts';
import { nextShopTrace } from '../../collector/test/fixtures/shop.ts';
import { seededRandom } from '../../collector/test/fixtures/trace-builder.ts';

const root = join(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    spans: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '90' },
    concurrency: { type: 'string', default: '8' },
    sync: { type: 'string', default: 'full' },
    'batch-spans': { type: 'string', default: '512' },
    queries: { type: 'string', default: '100' },
    templates: { type: 'string', default: '200' },
    /** The collector's --analysis-quiet: a large value measures ingest + durable store without the analysis. */
    'analysis-quiet': { type: 'string', default: '2s' },
    /** The launcher of the collector to measure (another checkout's bin/meshlet.js: a side-by-side baseline build). */
    meshlet: { type: 'string', default: '' },
  },
});
const TARGET_SPANS = Number(args.spans);
const MAX_SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const BATCH_SPANS = Number(args['batch-spans']);
const QUERIES = Number(args.queries);
const MESHLET = args.meshlet === '' ? join(root, 'bin', 'meshlet.js') : args.meshlet;

/** Pins a process to one CPU (so "one core" is what is measured); a no-op without taskset. */
function pin(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-cp', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

interface Template {
  body: Buffer;
  spans: number;
  /** Byte offsets of every trace id in the body: the first 4 bytes are rewritten per send. */
  traceIdOffsets: number[];
}

/**
 * Request templates: batches like a sidecar's BatchSpanProcessor sends (≤ 512 spans), start times spread
 * over the last 15 minutes. Each send stamps a unique counter into the trace ids, so every span is new.
 */
function makeTemplates(count: number): Template[] {
  const random = seededRandom(4318);
  const now = Date.now();
  const templates: Template[] = [];
  for (let i = 0; i < count; i++) {
    const spans: SpanRecord[] = [];
    const startMs = now - 15 * 60_000 + Math.floor((i / count) * 14 * 60_000);
    while (spans.length < BATCH_SPANS - 12) {
      spans.push(...nextShopTrace({ random, startNs: BigInt(startMs + Math.floor(random() * 60_000)) * 1_000_000n }).spans);
    }
    const body = encodeTraceRequest(spans);
    const offsets: number[] = [];
    for (const traceId of new Set(spans.map((s) => s.traceId))) {
      const id = Buffer.from(traceId, 'hex');
      for (let at = body.indexOf(id); at >= 0; at = body.indexOf(id, at + 16)) offsets.push(at);
    }
    templates.push({ body, spans: spans.length, traceIdOffsets: offsets });
  }
  return templates;
}

function stamp(t: Template, counter: number): Buffer {
  const body = Buffer.from(t.body);
  for (const at of t.traceIdOffsets) body.writeUInt32BE(counter >>> 0, at);
  return body;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far, all its threads. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state(3) ... utime(14) stime(15), numbered from 1 in proc(5).
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface LoadResult {
  /** Spans acknowledged per CPU-second the server used: the one-core rate, whatever else runs on the machine. */
  spansPerCpuSecond: number;
  serverCpuSeconds: number;
  spans: number;
  requests: number;
  seconds: number;
  spansPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  refused: number;
}

/** POSTs one body over a keep-alive agent; resolves with the status. */
function post(agent: Agent, url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, timeout: 30_000, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function load(target: string, templates: Template[], targetSpans: number, maxSeconds: number, serverPid: number): Promise<LoadResult> {
  const cpuBefore = cpuSeconds(serverPid);
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let spans = 0;
  let requests = 0;
  let refused = 0;
  let counter = 1;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (spans < targetSpans && performance.now() < deadline) {
      const t = templates[counter % templates.length] as Template;
      const body = stamp(t, counter++);
      const sent = performance.now();
      const status = await post(agent, url, body);
      if (status === 200) {
        latencies.push(performance.now() - sent);
        spans += t.spans;
        requests++;
      } else {
        refused++;
        // 503: back off as an exporter would.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const progress = setInterval(() => process.stderr.write(`  ${Math.round((performance.now() - started) / 1000)} s: ${spans} spans acknowledged, ${refused} refused\n`), 5_000);
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    clearInterval(progress);
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(serverPid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return { spansPerCpuSecond: Math.round(spans / cpu), serverCpuSeconds: round(cpu, 2), spans, requests, seconds: round(seconds, 2), spansPerSecond: Math.round(spans / seconds), ackP50Ms: round(percentile(latencies, 0.5), 2), ackP99Ms: round(percentile(latencies, 0.99), 2), refused };
}

function spawnCollector(dir: string): Promise<{ child: ChildProcess; otlp: string; http: string }> {
  const child = spawn(process.execPath, [MESHLET, 'collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', dir, '--sync', String(args.sync), '--analysis-quiet', String(args['analysis-quiet']), '--retention-size', '8Gi', '--max-queue', '1000000'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // BENCH_COLLECTOR_NODE_OPTIONS (e.g. --cpu-prof) goes to the collector process only.
    env: { ...process.env, NODE_OPTIONS: process.env.BENCH_COLLECTOR_NODE_OPTIONS ?? '' },
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      text += chunk;
      const line = text.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line !== undefined) {
        const entry = JSON.parse(line) as { otlp: string; http: string };
        resolve({ child, otlp: `http://${entry.otlp}`, http: `http://${entry.http}` });
      }
    });
    child.on('exit', (code) => reject(new Error(`collector exited (${code}): ${text}`)));
  });
}

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

async function timeQueries(url: string, n: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: round(percentile(times, 0.5), 2), p99Ms: round(percentile(times, 0.99), 2), maxMs: round(times.at(-1) ?? 0, 2) };
}

/** The 1, 5 and 15 minute load averages (how busy the shared machine was). */
const loadAverage = (): number[] => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const loadAtStart = loadAverage();

async function main(): Promise<void> {
  const pinned = pin(process.pid, 1);
  process.stderr.write(`collector bench: generating request templates (${BATCH_SPANS} spans each)...\n`);
  const t0 = performance.now();
  const templates = makeTemplates(Number(args.templates));
  process.stderr.write(`  ${templates.length} templates in ${round((performance.now() - t0) / 1000)} s\n`);

  // Baseline first: a plain node:http server in its own process on core 0 that reads and discards each
  // request — the ceiling of HTTP + the load generator on this machine, for the ratio.
  const baselineChild = spawn(process.execPath, ['-e', `
    const http = require('node:http');
    const s = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { res.writeHead(200, {'content-type': 'application/x-protobuf', 'content-length': 0}); res.end(); }); });
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((r) => baselineChild.stdout.once('data', (d: Buffer) => r(d.toString().trim())));
  pin(baselineChild.pid as number, 0);
  const baselineSeconds = Math.min(15, MAX_SECONDS);
  process.stderr.write(`baseline: discarding HTTP server, ${baselineSeconds} s...\n`);
  const baseline = await load(`http://127.0.0.1:${port}/v1/traces`, templates, Number.MAX_SAFE_INTEGER, baselineSeconds, baselineChild.pid as number);
  baselineChild.kill();

  const dir = mkdtempSync(join(tmpdir(), 'meshlet-bench-collector-'));
  const c = await spawnCollector(dir);
  // Interrupted (Ctrl-C, timeout): stop the collector we started and remove its data.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      c.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const collectorPid = c.child.pid as number;
  const collectorPinned = pin(collectorPid, 0);
  try {
    process.stderr.write(`collector: sending up to ${TARGET_SPANS} spans (≤ ${MAX_SECONDS} s, ${CONCURRENCY} in flight, sync=${args.sync})...\n`);
    const ingest = await load(`${c.otlp}/v1/traces`, templates, TARGET_SPANS, MAX_SECONDS, collectorPid);
    const rssAfterIngest = peakRssBytes(collectorPid);
    const t0 = performance.now();
    let health: { spansStored: number; tracesStored: number; analysisLagMs: number; queueDepth: number } = { spansStored: 0, tracesStored: 0, analysisLagMs: 1, queueDepth: 0 };
    for (;;) {
      health = (await (await fetch(`${c.http}/api/v1/health`)).json()) as typeof health;
      const metrics = await (await fetch(`${c.http}/metrics`)).text();
      const waiting = /^meshlet_collector_analysis_lag_seconds (\S+)$/m.exec(metrics)?.[1];
      if (health.analysisLagMs === 0 && Number(waiting) === 0 && performance.now() - t0 > 3000) break;
      if (performance.now() - t0 > 180_000) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const analysisCatchUpSeconds = round((performance.now() - t0) / 1000, 1);
    process.stderr.write(`collector: ${health.spansStored} spans stored; querying...\n`);
    const graph = await timeQueries(`${c.http}/api/v1/graph?lookbackMs=3600000`, QUERIES);
    const failures = await timeQueries(`${c.http}/api/v1/failures?lookbackMs=3600000`, QUERIES);
    const jaegerDeps = await timeQueries(`${c.http}/api/dependencies?lookback=3600000`, Math.min(20, QUERIES));
    const search = await timeQueries(`${c.http}/api/v1/traces?status=error&limit=50&lookbackMs=3600000`, Math.min(20, QUERIES));
    const peakRss = peakRssBytes(collectorPid);
    const finalMetrics = await (await fetch(`${c.http}/metrics`)).text();
    const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(finalMetrics)?.[1] ?? NaN);
    const memory = {
      rssMiB: round(metric('meshlet_collector_process_resident_memory_bytes') / 1048576, 1),
      heapTotalMiB: round(metric('meshlet_collector_nodejs_heap_size_total_bytes') / 1048576, 1),
      heapUsedMiB: round(metric('meshlet_collector_nodejs_heap_size_used_bytes') / 1048576, 1),
      externalMiB: round(metric('meshlet_collector_nodejs_external_memory_bytes') / 1048576, 1),
    };
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      meshlet: MESHLET,
      loadAverage: { atStart: loadAtStart, atEnd: loadAverage() },
      pinned: { generator: pinned, collector: collectorPinned },
      sync: args.sync,
      analysisQuiet: args['analysis-quiet'],
      batchSpans: BATCH_SPANS,
      concurrency: CONCURRENCY,
      baseline,
      ingest,
      ratioToBaseline: round(ingest.spansPerSecond / baseline.spansPerSecond, 3),
      cpuRatioToBaseline: round(ingest.spansPerCpuSecond / baseline.spansPerCpuSecond, 3),
      stored: health,
      analysisCatchUpSeconds,
      queries: { graph, failures, jaegerDependencies: jaegerDeps, traceSearch: search },
      peakRssMiB: round(peakRss / 1024 / 1024, 1),
      memoryAtEnd: memory,
      peakRssDuringIngestMiB: round(rssAfterIngest / 1024 / 1024, 1),
      targets: {
        spansPerSecond: ingest.spansPerSecond >= 50_000,
        spansPerCpuSecond: ingest.spansPerCpuSecond >= 50_000,
        queriesP99: graph.p99Ms <= 100 && failures.p99Ms <= 100,
        rss: peakRss <= 300 * 1024 * 1024,
      },
    };
    const out = join(root, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `collector-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`
| measure | baseline (discard) | collector | target |
| --- | --- | --- | --- |
| spans/s acknowledged, wall clock (server pinned to one core) | ${baseline.spansPerSecond} | ${ingest.spansPerSecond} (${result.ratioToBaseline}× baseline) | ≥ 50000 |
| spans per CPU-second of the server | ${baseline.spansPerCpuSecond} | ${ingest.spansPerCpuSecond} (${result.cpuRatioToBaseline}× baseline) | ≥ 50000 |
| ack p50 / p99 (ms) | ${baseline.ackP50Ms} / ${baseline.ackP99Ms} | ${ingest.ackP50Ms} / ${ingest.ackP99Ms} | |
| spans stored | | ${health.spansStored} | 1000000 |
| analysis catch-up after load (s) | | ${analysisCatchUpSeconds} | |
| graph query p50 / p99 (ms) | | ${graph.p50Ms} / ${graph.p99Ms} | ≤ 100 p99 |
| failure points query p50 / p99 (ms) | | ${failures.p50Ms} / ${failures.p99Ms} | ≤ 100 p99 |
| peak RSS (MiB) | | ${result.peakRssMiB} | ≤ 300 |

load average (1/5/15 min) at start ${loadAtStart.join(' / ')}, at end ${result.loadAverage.atEnd.join(' / ')}; collector: ${MESHLET}
`);
    process.stderr.write(`results: ${file}\n`);
  } finally {
    c.child.kill('SIGTERM');
    await new Promise((r) => c.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
