import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSpecProblems } from '@meshlet/wire';
import { parseScenarioFile, validateScenario } from './scenario.ts';

const opts = { userAgent: 'test-agent' };

test('a scenario file becomes a frozen load test with k6 semantics', () => {
  const result = parseScenarioFile(
    JSON.stringify({
      name: 'shop',
      baseUrl: 'http://127.0.0.1:9000/',
      headers: { 'x-tenant': 'acme' },
      requests: [
        { name: 'list', path: '/items', weight: 3, checks: { 'status is 200': { status: 200 } } },
        { name: 'buy', method: 'POST', path: '/buy', body: { id: 1 } },
      ],
      checks: { 'no 5xx': { bodyMatches: '^(?!.*error)' } },
      options: {
        scenarios: { a: { executor: 'constant-arrival-rate', rate: 30, timeUnit: '1m', duration: '1m30s', preAllocatedVUs: 2, maxVUs: 4, startTime: '2s', gracefulStop: '5s' } },
        thresholds: { http_req_duration: ['p(95)<500', { threshold: 'p(99)<900', abortOnFail: true, delayAbortEval: '10s' }] },
        summaryTrendStats: ['avg', 'p(99.9)'],
      },
    }),
    opts,
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const t = result.test;
  assert.ok(Object.isFrozen(t) && Object.isFrozen(t.requests[0]));
  assert.equal(t.baseUrl, 'http://127.0.0.1:9000');
  assert.equal(t.userAgent, 'test-agent');
  assert.deepEqual(t.scenarios, [{ name: 'a', startMs: 2000, gracefulStopMs: 5000, run: { executor: 'constant-arrival-rate', ratePerSecond: 0.5, durationMs: 90_000, maxConnections: 4 } }]);
  assert.deepEqual(t.requests[1]?.headers, { 'x-tenant': 'acme', 'content-type': 'application/json' });
  assert.equal(t.requests[1]?.body, '{"id":1}');
  assert.deepEqual(t.requests[0]?.checks.map((c) => c.name), ['status is 200', 'no 5xx']);
  assert.deepEqual(t.thresholds[0]?.thresholds.map((x) => [x.source, x.abortOnFail, x.delayAbortEvalMs]), [['p(95)<500', false, 0], ['p(99)<900', true, 10_000]]);
  assert.deepEqual(t.trendStats, ['avg', 'p(99.9)']);
});

test('k6 shortcut options map to the executors k6 uses', () => {
  const run = (options: object) => {
    const r = validateScenario({ name: 'x', requests: [{ name: 'r', path: '/' }], options }, opts);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.test.scenarios[0]?.run;
  };
  assert.deepEqual(run({ vus: 5, duration: '10s' }), { executor: 'constant-vus', vus: 5, durationMs: 10_000 });
  assert.deepEqual(run({ vus: 2, stages: [{ duration: '5s', target: 8 }] }), { executor: 'ramping-vus', startVus: 2, stages: [{ durationMs: 5000, target: 8 }] });
  assert.deepEqual(run({ vus: 2, iterations: 10 }), { executor: 'shared-iterations', vus: 2, iterations: 10, maxDurationMs: 600_000 });
  assert.deepEqual(run({}), { executor: 'shared-iterations', vus: 1, iterations: 1, maxDurationMs: 600_000 });
});

test('every problem is reported with its field path and line', () => {
  const yaml = [
    'name: shop',
    'requests:',
    '  - name: list',
    '    path: items',
    'options:',
    '  httpDebug: full',
    '  scenarios:',
    '    a:',
    '      executor: constant-rps',
    '    b:',
    '      executor: constant-vus',
    '      duration: soon',
  ].join('\n');
  const result = parseScenarioFile(yaml, opts);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const text = formatSpecProblems(result.problems, 'shop.yaml');
  assert.deepEqual(
    result.problems.map((p) => [p.path, p.line]),
    [
      ['requests.0.path', 4],
      ['options.httpDebug', 6],
      ['options.scenarios.a.executor', 9],
      ['options.scenarios.b.duration', 12],
    ],
    text,
  );
  assert.match(text, /requests\.0\.path: expected a path starting with "\/" \(shop\.yaml:4\)/);
  assert.match(text, /options\.httpDebug: unknown field "httpDebug" \(the harness runs scenarios/);
  assert.match(text, /options\.scenarios\.a\.executor: expected one of constant-arrival-rate, .*got "constant-rps"/);
  assert.match(text, /options\.scenarios\.b\.duration: expected a duration such as "30s"/);
});

test('threshold problems name the metric, the expression and the line', () => {
  const yaml = [
    'name: shop',
    'requests: [{ name: list, path: / }]',
    'options:',
    '  thresholds:',
    '    http_req_waiting: ["p(95)<1"]',
    '    http_req_failed: ["p(95)<1"]',
    '    checks: ["rate>>1"]',
    '    "http_req_duration{url:/x}": ["max<1"]',
  ].join('\n');
  const result = parseScenarioFile(yaml, opts);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(
    result.problems.map((p) => [p.path, p.line]),
    [
      ['options.thresholds.http_req_waiting.0', 5],
      ['options.thresholds.http_req_failed.0', 6],
      ['options.thresholds.checks.0', 7],
      ['options.thresholds.http_req_duration{url:/x}.0', 8],
    ],
  );
  const messages = result.problems.map((p) => p.message).join('\n');
  assert.match(messages, /unknown metric "http_req_waiting"; the harness computes http_reqs, http_req_duration/);
  assert.match(messages, /"p\(95\)<1": p\(95\) does not apply to a rate metric; use rate/);
  assert.match(messages, /"rate>>1": the right-hand side ">1" is not a number/);
  assert.match(messages, /unknown tag "url"/);
});

test('cross-field rules: scenarios exclude shortcuts, maxVUs ≥ preAllocatedVUs, tallies are custom metrics', () => {
  const result = validateScenario(
    {
      name: 'x',
      requests: [{ name: 'r', path: '/' }],
      tally: { metric: 'http_reqs', header: 'x-v' },
      options: { vus: 3, scenarios: { a: { executor: 'constant-arrival-rate', rate: 1, duration: '1s', preAllocatedVUs: 5, maxVUs: 2 } } },
    },
    opts,
  );
  assert.equal(result.ok, false);
  if (!result.ok) assert.deepEqual(result.problems.map((p) => p.path).sort(), ['options.scenarios.a.maxVUs', 'options.vus', 'tally.metric']);
});

test('syntax errors and non-mappings are problems, not exceptions', () => {
  const broken = parseScenarioFile('{"name": "x",', opts);
  assert.equal(broken.ok, false);
  if (!broken.ok) assert.match(broken.problems[0]?.message ?? '', /^YAML: /);
  const list = parseScenarioFile('[1, 2]', opts);
  assert.equal(list.ok, false);
});
