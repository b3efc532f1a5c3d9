// A load-test run correlated with the traces it produced, end to end with the real parts: `meshlet bench`
// loads an app through a real sidecar (`meshlet proxy`), which copies the run's baggage onto its spans;
// the real collector (`meshlet collector`) gets those spans and the run's start/finish events, and its
// query API lists the run with the sidecar's request count and the harness's name and verdict.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunDetail, RunsResponse, TraceSearchResponse } from '@meshlet/wire';
import { eventually, runBench, startMeshlet, startServer } from './helpers.ts';

test('the collector lists a bench run with the spans its requests made and the events the harness sent', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'meshlet-bench-collector-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const collector = await startMeshlet(t, ['collector', '--otlp', '127.0.0.1:0', '--http', '127.0.0.1:0', '--data', data]);
  const otlp = `http://${String(collector.otlp)}`;
  const api = `http://${String(collector.http)}`;
  const app = await startServer(t, (req, res) => res.writeHead(req.url === '/api/fail' ? 500 : 200).end('{"ok":true}'));
  const sidecar = await startMeshlet(t, [
    'proxy', '--service', 'shop', '--app', app.url.replace('http://', ''),
    '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--collector', otlp, '--no-access-log',
  ]);

  const run = await runBench(t, [`http://${String(sidecar.inbound)}/api/items`, '--rate', '20', '--duration', '2s', '--name', 'correlated', '--run-id', 'corr-run-1', '--collector', otlp, '--threshold', 'http_req_failed:rate==0', '-q']);
  assert.equal(run.code, 0, run.stderr);
  const sent = run.summary?.metrics.http_reqs?.values.count ?? 0;
  assert.ok(sent > 0 && sent + (run.summary?.metrics.dropped_iterations?.values.count ?? 0) === 40, `sent ${sent}`);
  assert.equal(app.received.length, sent);
  for (const r of app.received) assert.match(String(r.headers.baggage), /meshlet\.run=corr-run-1/);

  // The sidecar exports spans in batches: wait until all of them are in. (Before the first span, the
  // collector counts the run from its finished event alone, without latencies.)
  const detail = await eventually(async () => {
    const res = await fetch(`${api}/api/v1/runs/corr-run-1`);
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as RunDetail;
    return body.run.requests === sent && body.graph.nodes.some((node) => node.service === 'shop') ? body : undefined;
  }, 20_000, `the collector to count the ${sent} spans of run corr-run-1`);
  assert.equal(detail.run.name, 'correlated');
  assert.equal(detail.run.thresholdsPassed, true);
  assert.equal(detail.run.errors, 0);
  assert.ok(detail.run.p50Ms > 0);
  assert.ok(detail.graph.nodes.some((node) => node.service === 'shop'));
  assert.ok(detail.series.reduce((total, point) => total + point.requests, 0) === sent);

  const runs = (await (await fetch(`${api}/api/v1/runs`)).json()) as RunsResponse;
  assert.deepEqual(runs.runs.map((r) => r.runId), ['corr-run-1']);
  const traces = (await (await fetch(`${api}/api/v1/traces?run=corr-run-1&limit=5`)).json()) as TraceSearchResponse;
  assert.ok(traces.traces.length > 0);
  for (const trace of traces.traces) assert.equal(trace.runId, 'corr-run-1');
});
