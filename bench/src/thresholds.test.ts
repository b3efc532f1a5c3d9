import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAggregation, metricKeyName, parseMetricKey, parseThresholdExpression, thresholdHolds } from './thresholds.ts';

test('parses the threshold forms k6 documents', () => {
  assert.deepEqual(parseThresholdExpression('p(95)<500'), { ok: true, value: { method: 'p', percentile: 95, operator: '<', value: 500 } });
  assert.deepEqual(parseThresholdExpression(' p(99.9) <= 1e3 '), { ok: true, value: { method: 'p', percentile: 99.9, operator: '<=', value: 1000 } });
  assert.deepEqual(parseThresholdExpression('rate<0.01'), { ok: true, value: { method: 'rate', operator: '<', value: 0.01 } });
  assert.deepEqual(parseThresholdExpression('count>=100'), { ok: true, value: { method: 'count', operator: '>=', value: 100 } });
  assert.deepEqual(parseThresholdExpression('rate===1'), { ok: true, value: { method: 'rate', operator: '===', value: 1 } });
  assert.deepEqual(parseThresholdExpression('value!=0'), { ok: true, value: { method: 'value', operator: '!=', value: 0 } });
  assert.deepEqual(parseThresholdExpression('med>.5'), { ok: true, value: { method: 'med', operator: '>', value: 0.5 } });
});

test('refuses malformed thresholds with a reason', () => {
  for (const bad of ['p95<500', 'p(101)<1', 'avg 500', 'rate<fast', 'mean<3', 'p()<1']) {
    const result = parseThresholdExpression(bad);
    assert.equal(result.ok, false, bad);
    if (!result.ok) assert.match(result.error, new RegExp(bad.replace(/[()]/g, '\\$&')));
  }
});

test('aggregations must fit the metric type', () => {
  const p95 = { method: 'p', percentile: 95, operator: '<', value: 1 } as const;
  assert.equal(checkAggregation('trend', p95), undefined);
  assert.match(checkAggregation('rate', p95) ?? '', /p\(95\) does not apply to a rate metric; use rate/);
  assert.match(checkAggregation('counter', { method: 'avg', operator: '<', value: 1 }) ?? '', /use count, rate/);
});

test('metric keys carry sub-metric tags and print sorted', () => {
  const key = parseMetricKey('http_req_duration{scenario:steady, name:"GET /a:b"}');
  assert.deepEqual(key, { ok: true, value: { metric: 'http_req_duration', tags: { scenario: 'steady', name: 'GET /a:b' } } });
  if (key.ok) assert.equal(metricKeyName(key.value), 'http_req_duration{name:GET /a:b,scenario:steady}');
  assert.equal(parseMetricKey('http_req_duration{scenario}').ok, false);
  assert.equal(parseMetricKey('http req').ok, false);
});

test('threshold operators compare as k6 does', () => {
  const t = (operator: '<' | '<=' | '>' | '>=' | '==' | '===' | '!=', value: number) => ({ method: 'rate' as const, operator, value });
  assert.equal(thresholdHolds(t('<', 1), 0.5), true);
  assert.equal(thresholdHolds(t('<', 1), 1), false);
  assert.equal(thresholdHolds(t('<=', 1), 1), true);
  assert.equal(thresholdHolds(t('>', 0.99), 0.99), false);
  assert.equal(thresholdHolds(t('==', 0), 0), true);
  assert.equal(thresholdHolds(t('!=', 0), 0), false);
});
