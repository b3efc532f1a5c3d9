// `meshlet bench` end to end: the real CLI as a process, real HTTP servers and a real OTLP receiver on
// 127.0.0.1. Runs are 1–3 s each; every process and server is stopped in t.after.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { K6Summary } from '../src/summary.ts';
import { closedPort, runBench, startOtlpReceiver, startServer } from './helpers.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-bench-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('honours the arrival rate, spread within each second, and tags every request with the run', async (t) => {
  const server = await startServer(t);
  const run = await runBench(t, [`${server.url}/api/items`, '--rate', '40', '--duration', '2s', '-c', '8', '--run-id', 'rate-test', '-H', 'baggage: tenant=acme']);
  assert.equal(run.code, 0, run.stderr);
  const got = server.received.length;
  const dropped = run.summary?.metrics.dropped_iterations?.values.count ?? 0;
  // The quota is exact: 40/s × 2 s. A starved machine may drop a few, and then says so.
  assert.ok(got >= 72 && got <= 80, `server got ${got} requests`);
  assert.equal(got + dropped, 80);
  assert.equal(run.summary?.metrics.http_reqs?.values.count, got);
  const times = server.received.map((r) => r.atMs).sort((a, b) => a - b);
  const span = (times.at(-1) as number) - (times[0] as number);
  assert.ok(span > 1500 && span < 2600, `requests spread over ${span} ms`);
  // Spread within each second, not one burst per second: one burst a second would fill about 2 of the
  // run's twenty 100 ms windows with 40 requests each; phases 125 ms apart fill most windows with ≤ 10.
  // (Bounds are loose: on a starved machine late phases start together and their bursts merge.)
  const perWindow = new Map<number, number>();
  for (const at of times) {
    const window = Math.floor((at - (times[0] as number)) / 100);
    perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
  }
  assert.ok(perWindow.size >= 8, `requests fell in ${perWindow.size} of ~20 windows of 100 ms`);
  assert.ok(Math.max(...perWindow.values()) <= 30, `busiest 100 ms window: ${Math.max(...perWindow.values())} requests`);
  for (const r of server.received) assert.equal(r.headers.baggage, 'tenant=acme,meshlet.run=rate-test');
  assert.match(String(server.received[0]?.headers['user-agent']), /^meshlet-bench\//);
});

test('thresholds pass with exit 0 and fail with exit 99; the summary has k6 handleSummary shape', async (t) => {
  const server = await startServer(t);
  const dir = await tempDir(t);
  const exported = join(dir, 'summary.json');
  const args = [`${server.url}/`, '--rate', '20', '--duration', '1s', '--check-status', '200', '--threshold', 'http_req_failed:rate<0.01', '--threshold', 'checks:rate>0.99'];
  const pass = await runBench(t, [...args, '--threshold', 'http_req_duration:p(95)<5000', '--summary-export', exported]);
  assert.equal(pass.code, 0, pass.stderr);
  assert.equal(pass.stdout, '', 'with --summary-export the JSON goes to the file only');
  const s = JSON.parse(await readFile(exported, 'utf8')) as K6Summary;
  assert.deepEqual(Object.keys(s).sort(), ['meshlet', 'metrics', 'options', 'root_group', 'state']);
  assert.deepEqual(s.root_group, {
    name: '',
    path: '',
    id: 'd41d8cd98f00b204e9800998ecf8427e',
    groups: [],
    checks: [{ name: 'status is 200', path: '::status is 200', id: s.root_group.checks[0]?.id, passes: 20, fails: 0 }],
  });
  assert.match(s.root_group.checks[0]?.id ?? '', /^[0-9a-f]{32}$/);
  assert.deepEqual(s.options, { summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'], summaryTimeUnit: '', noColor: true });
  assert.equal(typeof s.state.testRunDurationMs, 'number');
  assert.equal(s.state.isStdOutTTY, false);
  const duration = s.metrics.http_req_duration;
  assert.equal(duration?.type, 'trend');
  assert.equal(duration?.contains, 'time');
  assert.deepEqual(Object.keys(duration?.values ?? {}), ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)']);
  assert.ok((duration?.values['p(95)'] ?? -1) > 0);
  assert.deepEqual(duration?.thresholds, { 'p(95)<5000': { ok: true } });
  assert.deepEqual(s.metrics.http_req_failed, { type: 'rate', contains: 'default', values: { rate: 0, passes: 0, fails: 20 }, thresholds: { 'rate<0.01': { ok: true } } });
  assert.deepEqual(s.metrics.checks?.values, { rate: 1, passes: 20, fails: 0 });
  assert.equal(s.metrics.http_reqs?.type, 'counter');
  assert.deepEqual(Object.keys(s.metrics.http_reqs?.values ?? {}), ['count', 'rate']);
  assert.equal(s.metrics.iterations?.values.count, 20);
  assert.equal(s.metrics.data_sent?.contains, 'data');
  assert.ok((s.metrics.data_received?.values.count ?? 0) > 0);
  assert.deepEqual(Object.keys(s.metrics.vus?.values ?? {}), ['value', 'min', 'max']);
  assert.equal(s.metrics['http_req_duration{expected_response:true}']?.values.max, duration?.values.max);
  assert.equal(s.meshlet.thresholdsPassed, true);
  assert.match(pass.stderr, /✓ 'p\(95\)<5000' p\(95\)=/);

  const fail = await runBench(t, [...args, '--threshold', 'http_req_duration:p(95)<0.001']);
  assert.equal(fail.code, 99, fail.stderr);
  assert.deepEqual(fail.summary?.metrics.http_req_duration?.thresholds, { 'p(95)<0.001': { ok: false } });
  assert.equal(fail.summary?.meshlet.thresholdsPassed, false);
  assert.match(fail.stderr, /✗ 'p\(95\)<0\.001'/);
  assert.match(fail.stderr, /thresholds failed \(exit code 99\)/);
});

test('a scenario file: weighted requests, status and body checks, failures, sub-metrics and a tally', async (t) => {
  let n = 0;
  const server = await startServer(t, (req, res) => {
    n++;
    res.setHeader('x-version', n % 2 === 0 ? 'green' : 'blue');
    if (req.url === '/bad') res.writeHead(503).end('{"error":"down"}');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[1,2]}');
  });
  const dir = await tempDir(t);
  const file = join(dir, 'mixed.yaml');
  await writeFile(
    file,
    [
      'name: mixed',
      `baseUrl: ${server.url}`,
      'headers: { x-tenant: acme }',
      'requests:',
      '  - { name: good, path: /good, weight: 3, checks: { "has items": { bodyIncludes: items } } }',
      '  - { name: bad, method: POST, path: /bad, body: { id: 7 } }',
      'checks:',
      '  "status is 200": { status: 200 }',
      'tally: { metric: served_by, tag: version, header: X-Version }',
      'options:',
      '  scenarios:',
      '    mix: { executor: shared-iterations, vus: 2, iterations: 40 }',
      '  thresholds:',
      '    "http_req_duration{name:good}": ["p(95)<5000"]',
      '    "http_req_failed{name:bad}": ["rate==1"]',
      '    checks: ["rate>0.99"]',
    ].join('\n'),
  );
  const run = await runBench(t, ['--scenario', file, '--run-id', 'mixed-1']);
  assert.equal(run.code, 99, run.stderr);
  const s = run.summary;
  assert.ok(s !== undefined);
  const bad = server.received.filter((r) => r.url === '/bad');
  const good = server.received.filter((r) => r.url === '/good');
  assert.equal(server.received.length, 40);
  assert.equal(bad.length, 10, 'weights 3:1');
  assert.deepEqual(JSON.parse(bad[0]?.body ?? ''), { id: 7 });
  assert.equal(bad[0]?.headers['content-type'], 'application/json');
  assert.equal(good[0]?.headers['x-tenant'], 'acme');
  assert.deepEqual(s.root_group.checks.map((c) => [c.name, c.passes, c.fails]), [['has items', 30, 0], ['status is 200', 30, 10]]);
  assert.deepEqual(s.metrics.http_req_failed?.values, { rate: 0.25, passes: 10, fails: 30 });
  assert.deepEqual(s.metrics['http_req_failed{name:bad}']?.thresholds, { 'rate==1': { ok: true } });
  assert.deepEqual(s.metrics.checks?.thresholds, { 'rate>0.99': { ok: false } });
  assert.equal(s.metrics['http_req_duration{name:good}']?.values['p(95)'] !== undefined, true);
  assert.equal(s.metrics.served_by?.values.count, 40);
  assert.equal((s.metrics['served_by{version:blue}']?.values.count ?? 0) + (s.metrics['served_by{version:green}']?.values.count ?? 0), 40);
  const seen = s.metrics['served_by_at{version:blue}'];
  assert.equal(seen?.type, 'trend');
  assert.ok((seen?.values.min ?? -1) >= 0 && (seen?.values.max ?? -1) >= (seen?.values.min ?? 0), 'first and last time blue answered');
  assert.ok((seen?.values.max ?? Infinity) <= s.state.testRunDurationMs);
  assert.match(run.stderr, /✗ status is 200/);
});

test('a bad scenario file exits 104 and names every field at fault with its line', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'bad.json');
  await writeFile(file, '{\n  "name": "bad",\n  "requests": [{ "name": "r", "path": "/" }],\n  "options": {\n    "scenarios": { "a": { "executor": "constant-arrival-rate", "rate": -1, "duration": "1s", "preAllocatedVUs": 1 } },\n    "thresholds": { "http_req_duration": ["p95<1"] }\n  }\n}\n');
  const run = await runBench(t, ['--scenario', file]);
  assert.equal(run.code, 104);
  assert.match(run.stderr, /options\.scenarios\.a\.rate: expected a number > 0, got -1 \(.*bad\.json:5\)/);
  const missing = await runBench(t, ['--scenario', join(dir, 'nope.json')]);
  assert.equal(missing.code, 104);
  assert.match(missing.stderr, /cannot read scenario file .*nope\.json: ENOENT/);
  const threshold = await runBench(t, ['http://127.0.0.1:1/', '--threshold', 'http_req_duration:p95<1']);
  assert.equal(threshold.code, 104);
  assert.match(threshold.stderr, /--threshold http_req_duration:p95<1: "p95<1": unknown aggregation "p95"/);
});

test('start and finish events reach an OTLP/HTTP receiver with the run, its numbers and its summary', async (t) => {
  const server = await startServer(t, (req, res) => res.writeHead(req.url === '/' ? 200 : 404).end('x'));
  const otlp = await startOtlpReceiver(t);
  const before = Date.now();
  const run = await runBench(t, [`${server.url}/`, '--rate', '10', '--duration', '1s', '--name', 'otlp', '--run-id', 'otlp-run-1', '--collector', otlp.url, '--threshold', 'http_req_failed:rate==0']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(otlp.logs.map((l) => l.eventName), ['meshlet.loadtest.started', 'meshlet.loadtest.finished']);
  const [started, finished] = otlp.logs;
  assert.ok(started !== undefined && finished !== undefined);
  assert.equal(started.contentType, 'application/x-protobuf');
  assert.deepEqual(started.resource, { 'service.name': 'meshlet-bench', 'meshlet.component': 'loadtest', 'service.version': '0.1.0' });
  assert.deepEqual(started.attributes, { 'event.name': 'meshlet.loadtest.started', 'meshlet.run': 'otlp-run-1', 'meshlet.loadtest.name': 'otlp', 'meshlet.loadtest.target': server.url });
  assert.equal(started.severityNumber, 9);
  assert.ok(Number(BigInt(started.timeUnixNano) / 1_000_000n) >= before - 1);
  assert.ok(BigInt(finished.timeUnixNano) > BigInt(started.timeUnixNano));
  const attrs = finished.attributes;
  assert.equal(attrs['meshlet.run'], 'otlp-run-1');
  assert.equal(attrs['meshlet.loadtest.requests'], server.received.length);
  assert.equal(attrs['meshlet.loadtest.errors'], 0);
  assert.equal(attrs['meshlet.loadtest.thresholds_passed'], true);
  const summary = JSON.parse(String(attrs['meshlet.loadtest.summary_json'])) as { meshlet: { runId: string }; metrics: { http_reqs: { values: { count: number } } } };
  assert.equal(summary.meshlet.runId, 'otlp-run-1');
  assert.equal(summary.metrics.http_reqs.values.count, server.received.length);
  assert.match(String(finished.body), /load test otlp finished \(run otlp-run-1\): 10 requests, 0 failed, thresholds passed/);
});

test('an unreachable collector is reported and does not fail the run', async (t) => {
  const server = await startServer(t);
  const port = await closedPort();
  const run = await runBench(t, [`${server.url}/`, '-n', '5', '--collector', `http://127.0.0.1:${port}`], { env: { MESHLET_BENCH_RUN_ID: 'from-env' } });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /could not send meshlet\.loadtest\.started to http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(server.received[0]?.headers.baggage, 'meshlet.run=from-env');
});

test('without --collector or MESHLET_BENCH_COLLECTOR, OTEL_EXPORTER_OTLP_ENDPOINT names the collector', async (t) => {
  const server = await startServer(t);
  const otlp = await startOtlpReceiver(t);
  const run = await runBench(t, [`${server.url}/`, '-n', '3', '--run-id', 'otel-env'], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(otlp.logs.map((l) => [l.eventName, l.attributes['meshlet.run']]), [
    ['meshlet.loadtest.started', 'otel-env'],
    ['meshlet.loadtest.finished', 'otel-env'],
  ]);
  const bad = await runBench(t, [`${server.url}/`, '-n', '1'], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'nope' } });
  assert.equal(bad.code, 104);
  assert.match(bad.stderr, /OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:\/\/ or https:\/\/ URL, got "nope"/);
});

test('SIGINT drains the run, still writes the summary, and exits 105', async (t) => {
  const server = await startServer(t);
  const run = await runBench(t, [`${server.url}/`, '--rate', '20', '--duration', '30s'], { interruptWhen: (stderr) => stderr.includes('scenarios:'), interruptDelayMs: 1000 });
  assert.equal(run.code, 105, run.stderr);
  assert.ok(run.elapsedMs < 10_000, `took ${run.elapsedMs} ms`);
  assert.equal(run.summary?.meshlet.aborted, 'signal');
  assert.equal(run.summary?.metrics.http_reqs?.values.count, server.received.length);
  assert.equal(run.summary?.metrics.dropped_iterations, undefined, 'an aborted run drops nothing');
});

test('requests that time out are failed requests, and the run still ends on time', async (t) => {
  const server = await startServer(t, () => {}); // never answers
  const run = await runBench(t, [`${server.url}/`, '--rate', '4', '--duration', '1s', '--timeout', '1s', '-q']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.received.length, 4);
  assert.deepEqual(run.summary?.metrics.http_req_failed?.values, { rate: 1, passes: 4, fails: 0 });
  assert.ok((run.summary?.metrics.http_req_duration?.values.min ?? 0) >= 990);
  assert.ok(run.elapsedMs < 8000, `took ${run.elapsedMs} ms`);
});

test('a threshold with abortOnFail stops the run early and exits 99', async (t) => {
  const server = await startServer(t, (_req, res) => res.writeHead(500).end());
  const dir = await tempDir(t);
  const file = join(dir, 'abort.json');
  await writeFile(
    file,
    JSON.stringify({
      name: 'abort',
      baseUrl: server.url,
      requests: [{ name: 'r', path: '/' }],
      options: {
        scenarios: { s: { executor: 'constant-arrival-rate', rate: 20, duration: '30s', preAllocatedVUs: 4 } },
        thresholds: { http_req_failed: [{ threshold: 'rate<0.5', abortOnFail: true, delayAbortEval: '1s' }] },
      },
    }),
  );
  const run = await runBench(t, ['--scenario', file, '-q']);
  assert.equal(run.code, 99, run.stderr);
  assert.equal(run.summary?.meshlet.aborted, 'threshold');
  assert.ok(run.elapsedMs < 10_000, `took ${run.elapsedMs} ms`);
  assert.ok(server.received.length < 200);
});

test('an arrival rate the connections cannot keep up with drops iterations, as k6 does', async (t) => {
  const server = await startServer(t, (_req, res) => setTimeout(() => res.end('slow'), 200));
  const run = await runBench(t, [`${server.url}/`, '--rate', '30', '--duration', '2s', '-c', '2', '-q']);
  assert.equal(run.code, 0, run.stderr);
  const sent = server.received.length;
  const dropped = run.summary?.metrics.dropped_iterations?.values.count ?? 0;
  // Two connections at 200 ms each carry ~10 req/s of the 30 asked for.
  assert.ok(sent <= 30, `sent ${sent}`);
  assert.equal(sent + dropped, 60);
});
