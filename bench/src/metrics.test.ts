import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILTIN_METRICS, MetricSet } from './metrics.ts';
import type { Threshold } from './thresholds.ts';

const threshold = (source: string, partial: Omit<Threshold, 'source' | 'abortOnFail' | 'delayAbortEvalMs'>, abortOnFail = false): Threshold => ({ ...partial, source, abortOnFail, delayAbortEvalMs: 0 });
const ok = { scenario: 's', name: 'r', method: 'GET', status: '200', expected_response: 'true' };
const bad = { ...ok, status: '500', expected_response: 'false' };

test('trend statistics: exact min/max/avg, percentiles within the histogram precision', () => {
  const metrics = new MetricSet();
  // 1..1000 ms in a shuffled order: p(95) is 950 ms (k6 interpolates to 950.05).
  const values = Array.from({ length: 1000 }, (_, i) => i + 1).sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000));
  for (const v of values) metrics.add('http_req_duration', v, ok);
  const stat = (s: string): number => metrics.stat('http_req_duration', s, 1000) as number;
  assert.equal(stat('min'), 1);
  assert.equal(stat('max'), 1000);
  assert.equal(stat('avg'), 500.5);
  assert.equal(stat('count'), 1000);
  for (const [p, expected] of [['p(95)', 950], ['med', 500], ['p(99)', 990], ['p(90)', 900]] as const) {
    assert.ok(Math.abs(stat(p) - expected) / expected < 0.002, `${p}=${stat(p)}`);
  }
});

test('rates, counters and gauges report k6 values', () => {
  const metrics = new MetricSet();
  for (let i = 0; i < 10; i++) {
    metrics.add('http_req_failed', i < 2 ? 1 : 0, i < 2 ? bad : ok);
    metrics.add('http_reqs', 1, ok);
  }
  metrics.add('vus', 3, {});
  metrics.add('vus', 1, {});
  const summary = metrics.summary(2000, ['avg'], []);
  assert.deepEqual(summary.http_req_failed?.values, { rate: 0.2, passes: 2, fails: 8 });
  assert.deepEqual(summary.http_reqs?.values, { count: 10, rate: 5 });
  assert.deepEqual(summary.vus?.values, { value: 1, min: 1, max: 3 });
  assert.equal(summary.data_sent, undefined, 'metrics without samples are left out, as in k6');
});

test('sub-metrics collect the samples whose tags match, and carry their thresholds', () => {
  const metrics = new MetricSet({
    thresholds: [
      { key: { metric: 'http_req_duration', tags: { status: '500' } }, thresholds: [threshold('max<10', { method: 'max', operator: '<', value: 10 })] },
      { key: { metric: 'http_req_failed', tags: {} }, thresholds: [threshold('rate<0.5', { method: 'rate', operator: '<', value: 0.5 })] },
    ],
  });
  metrics.add('http_req_duration', 5, ok);
  metrics.add('http_req_duration', 50, bad);
  metrics.add('http_req_failed', 0, ok);
  metrics.add('http_req_failed', 1, bad);
  const results = metrics.evaluate(1000);
  assert.deepEqual(
    results.map((r) => [r.series, r.source, r.observed, r.ok]),
    [
      ['http_req_duration{status:500}', 'max<10', 50, false],
      ['http_req_failed', 'rate<0.5', 0.5, false],
    ],
  );
  const summary = metrics.summary(1000, ['max'], results);
  assert.deepEqual(summary['http_req_duration{status:500}'], { type: 'trend', contains: 'time', values: { max: 50 }, thresholds: { 'max<10': { ok: false } } });
  assert.deepEqual(summary['http_req_duration{expected_response:true}']?.values, { max: 5 });
});

test('only abortOnFail thresholds past their delay are evaluated while the run goes on', () => {
  const metrics = new MetricSet({
    thresholds: [
      {
        key: { metric: 'http_req_failed', tags: {} },
        thresholds: [{ ...threshold('rate<0.1', { method: 'rate', operator: '<', value: 0.1 }, true), delayAbortEvalMs: 5000 }, threshold('rate<0.2', { method: 'rate', operator: '<', value: 0.2 })],
      },
    ],
  });
  metrics.add('http_req_failed', 1, bad);
  assert.deepEqual(metrics.evaluate(1000, { abortable: true, elapsedMs: 1000 }), []);
  assert.deepEqual(metrics.evaluate(6000, { abortable: true, elapsedMs: 6000 }).map((r) => r.source), ['rate<0.1']);
});

test('threshold declarations are checked against what the harness computes', () => {
  const t = threshold('p(95)<1', { method: 'p', percentile: 95, operator: '<', value: 1 });
  assert.match(MetricSet.problem({ metric: 'http_req_waiting', tags: {} }, t, BUILTIN_METRICS) ?? '', /unknown metric "http_req_waiting"/);
  assert.match(MetricSet.problem({ metric: 'http_req_duration', tags: { url: 'x' } }, t, BUILTIN_METRICS) ?? '', /unknown tag "url"/);
  assert.match(MetricSet.problem({ metric: 'checks', tags: {} }, t, BUILTIN_METRICS) ?? '', /does not apply to a rate metric/);
  assert.equal(MetricSet.problem({ metric: 'http_req_duration', tags: { scenario: 'a' } }, t, BUILTIN_METRICS), undefined);
});

test('a tally turns each value it sees into a sub-metric, up to a bound', () => {
  const metrics = new MetricSet({ custom: { versions: { type: 'counter', contains: 'default', extraTags: ['version'] } }, autoSubmetrics: { versions: 'version' } });
  for (const v of ['blue', 'blue', 'green']) metrics.add('versions', 1, { version: v });
  for (let i = 0; i < 30; i++) metrics.add('versions', 1, { version: `v${i}` });
  const summary = metrics.summary(1000, [], []);
  assert.equal(summary['versions{version:blue}']?.values.count, 2);
  assert.equal(summary['versions{version:green}']?.values.count, 1);
  assert.equal(summary.versions?.values.count, 33);
  assert.equal(Object.keys(summary).filter((k) => k.startsWith('versions{')).length, 20);
});
