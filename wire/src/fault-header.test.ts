import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFaultHeader } from './fault-header.ts';

test('abort, delay, service and percent are read', () => {
  assert.deepEqual(parseFaultHeader('service=payments, abort=503'), { service: 'payments', abortStatus: 503, percent: 100 });
  assert.deepEqual(parseFaultHeader('delay=1.5s,percent=25'), { delayMs: 1500, percent: 25 });
  assert.deepEqual(parseFaultHeader('ABORT=500 , delay=10ms'), { abortStatus: 500, delayMs: 10, percent: 100 });
});

test('malformed values say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /needs abort/],
    ['abort=99', /status 200-599/],
    ['delay=soon', /duration/],
    ['percent=101,abort=500', /0-100/],
    ['explode=1', /unknown key "explode"/],
    ['abort', /key=value/],
    ['service=,abort=500', /service needs a name/],
  ];
  for (const [value, message] of cases) {
    const result = parseFaultHeader(value);
    assert.ok('error' in result, value);
    assert.match(result.error, message);
  }
});
