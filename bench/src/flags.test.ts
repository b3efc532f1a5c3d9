import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags, scenarioFromFlags, thresholdsFromFlags } from './flags.ts';
import { validateScenario } from './scenario.ts';

function parse(argv: string[]) {
  let err = '';
  let out = '';
  const result = parseFlags(argv, (t) => (out += t), (t) => (err += t));
  return { result, out, err };
}

test('--help documents the flags, the scenario format, outputs and exit codes', () => {
  const { result, out } = parse(['--help']);
  assert.deepEqual(result, { kind: 'done', exitCode: 0 });
  for (const text of ['--scenario', '--rate', '--stage', '--threshold', '--collector', '--summary-export', '--run-id', 'baggage: meshlet.run', '99 a threshold failed', 'constant-arrival-rate', 'MESHLET_BENCH_COLLECTOR']) {
    assert.ok(out.includes(text), `help mentions ${text}`);
  }
});

test('a bad flag value names the flag and exits 104', () => {
  for (const [argv, flag] of [
    [['http://127.0.0.1:1/', '--rate', 'fast'], '--rate'],
    [['http://127.0.0.1:1/', '--duration', '10'], '--duration'],
    [['http://127.0.0.1:1/', '--stage', '30s'], '--stage'],
    [['http://127.0.0.1:1/', '--threshold', 'p(95)<1'], '--threshold'],
    [['http://127.0.0.1:1/', '--run-id', 'has space'], '--run-id'],
    [['http://127.0.0.1:1/', '--collector', 'ftp://x'], '--collector'],
    [['http://127.0.0.1:1/', '--frobnicate'], '--frobnicate'],
  ] as const) {
    const { result, err } = parse([...argv]);
    assert.deepEqual(result, { kind: 'done', exitCode: 104 }, argv.join(' '));
    assert.ok(err.includes(flag), `${err} names ${flag}`);
  }
});

test('flags that contradict each other are refused with a reason', () => {
  assert.throws(() => parse([]), { code: 'ERR_BENCH_BAD_FLAG', message: /give a URL to load, or --scenario/ });
  assert.throws(() => parse(['-s', 'a.json', '--rate', '5', '--header', 'x: y']), { code: 'ERR_BENCH_BAD_FLAG', message: /--rate, --header cannot be combined with --scenario/ });
  assert.throws(() => parse(['http://127.0.0.1:1/', '-n', '5', '--rate', '5']), { code: 'ERR_BENCH_BAD_FLAG', message: /--requests cannot be combined with --rate/ });
  assert.throws(() => parse(['notaurl']), { code: 'ERR_BENCH_BAD_FLAG', message: /the URL argument: expected an http/ });
});

test('a URL and flags become the scenario a file would hold', () => {
  const { result } = parse([
    'http://127.0.0.1:9/api/x?q=1', '-r', '50', '-d', '3s', '-c', '4', '-m', 'post', '-b', '{}', '-H', 'baggage: tenant=acme', '--check-status', '200,201', '--check-body', 'ok',
    '--threshold', 'http_req_duration{scenario:default}:p(95)<500', '--threshold', 'http_req_failed:rate<0.01',
  ]);
  assert.equal(result.kind, 'run');
  if (result.kind !== 'run') return;
  const file = scenarioFromFlags(result.flags);
  assert.deepEqual(file.requests, [{ name: 'POST /api/x', method: 'POST', path: '/api/x?q=1', body: '{}' }]);
  assert.deepEqual(file.options?.scenarios?.default, { executor: 'constant-arrival-rate', rate: 50, timeUnit: '1s', duration: '3s', preAllocatedVUs: 4, maxVUs: 4 });
  assert.deepEqual(file.headers, { baggage: 'tenant=acme' });
  assert.deepEqual(Object.keys(file.checks ?? {}), ['status is 200 or 201', 'body includes "ok"']);
  assert.deepEqual(thresholdsFromFlags(result.flags), { 'http_req_duration{scenario:default}': ['p(95)<500'], http_req_failed: ['rate<0.01'] });
  const validated = validateScenario(file, { userAgent: 't', extraThresholds: thresholdsFromFlags(result.flags) });
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
});

test('without a rate the URL is loaded by a fixed number of connections; --stage ramps the rate', () => {
  const closed = parse(['http://127.0.0.1:9/']);
  assert.equal(closed.result.kind, 'run');
  if (closed.result.kind === 'run') assert.deepEqual(scenarioFromFlags(closed.result.flags).options?.scenarios?.default, { executor: 'constant-vus', vus: 10, duration: '10s' });
  const ramp = parse(['http://127.0.0.1:9/', '-r', '5', '--stage', '10s:100', '--stage', '5s:0']);
  if (ramp.result.kind === 'run') {
    assert.deepEqual(scenarioFromFlags(ramp.result.flags).options?.scenarios?.default, {
      executor: 'ramping-arrival-rate', startRate: 5, timeUnit: '1s', preAllocatedVUs: 10, maxVUs: 10,
      stages: [{ duration: '10s', target: 100 }, { duration: '5s', target: 0 }],
    });
  }
  const count = parse(['http://127.0.0.1:9/', '-n', '3']);
  if (count.result.kind === 'run') assert.deepEqual(scenarioFromFlags(count.result.flags).options?.scenarios?.default, { executor: 'shared-iterations', vus: 3, iterations: 3, maxDuration: '10m' });
});
