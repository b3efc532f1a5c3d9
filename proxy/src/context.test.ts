import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baggageRun, extractParent, parseB3Single, parseTraceparent, parseTracestate } from './context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('traceparent: the W3C validity rules', () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, sampled: true, format: 'w3c' });
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled, false);
  assert.equal(parseTraceparent(`00-${TRACE.toUpperCase()}-${SPAN}-01`), null, 'upper case is invalid');
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN.toUpperCase()}-01`), null);
  assert.equal(parseTraceparent(`00-${'0'.repeat(32)}-${SPAN}-01`), null, 'all-zero trace id');
  assert.equal(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`), null, 'all-zero span id');
  assert.equal(parseTraceparent(`ff-${TRACE}-${SPAN}-01`), null, 'version ff');
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-01-extra`), null, 'version 00 has exactly four fields');
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-future`)?.traceId, TRACE, 'a later version may add fields');
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01future`), null);
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-1`), null, 'short flags');
  assert.equal(parseTraceparent(`00-${TRACE.slice(1)}-${SPAN}-01`), null, 'short trace id');
  assert.equal(parseTraceparent(`00_${TRACE}-${SPAN}-01`), null);
  assert.equal(parseTraceparent(`0g-${TRACE}-${SPAN}-01`), null);
});

test('tracestate: 32 entries pass, 33 are dropped; bad or duplicate keys drop it all', () => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v${i}`);
  assert.equal(parseTracestate(entries(32).join(',')), entries(32).join(','));
  assert.equal(parseTracestate(entries(33).join(',')), null);
  assert.equal(parseTracestate('a=1,a=2'), null, 'duplicate key');
  assert.equal(parseTracestate('A=1'), null, 'upper-case key');
  assert.equal(parseTracestate('a=1 ,, b=2'), 'a=1,b=2', 'empty members and spaces around them are allowed');
  assert.equal(parseTracestate(['a=1', 'b=2']), 'a=1,b=2', 'several headers are one list');
  assert.equal(parseTracestate('tenant@sys=x'), 'tenant@sys=x');
  assert.equal(parseTracestate('a=has,comma'), null);
  assert.equal(parseTracestate('a=ends-with-space '), 'a=ends-with-space', 'the OWS after a member is not part of it');
  assert.equal(parseTracestate('a=x=y'), null, '= is not allowed in a value');
  assert.equal(parseTracestate(''), null);
});

test('tracestate over 512 characters loses whole entries, long ones first, never a cut entry', () => {
  const long = `big=${'x'.repeat(200)}`;
  const small = Array.from({ length: 30 }, (_, i) => `key${String(i).padStart(2, '0')}=${'v'.repeat(10)}`); // 16 chars each
  const out = parseTracestate([long, ...small].join(',')) as string;
  assert.ok(out.length <= 512);
  assert.ok(!out.includes('big='), 'the entry over 128 characters goes first');
  assert.equal(out, small.join(','), 'all the small ones fit (30 × 17 − 1 = 509)');
  const many = Array.from({ length: 32 }, (_, i) => `k${String(i).padStart(2, '0')}=${'v'.repeat(20)}`); // 24 chars each
  const cut = parseTracestate(many.join(',')) as string;
  assert.ok(cut.length <= 512);
  const kept = cut.split(',');
  assert.deepEqual(kept, many.slice(0, kept.length), 'entries dropped from the end, each kept whole');
  assert.equal(kept.length, 20);
});

test('B3 single and multi; precedence W3C > b3 > X-B3-*', () => {
  assert.deepEqual(parseB3Single(`${TRACE}-${SPAN}-1`), { traceId: TRACE, spanId: SPAN, sampled: true, format: 'b3' });
  assert.equal(parseB3Single(`${TRACE}-${SPAN}-0`)?.sampled, false);
  assert.equal(parseB3Single(`${TRACE}-${SPAN}-d-${SPAN}`)?.sampled, true);
  assert.equal(parseB3Single(`a3ce929d0e0e4736-${SPAN}`)?.traceId, '0000000000000000a3ce929d0e0e4736', '64-bit ids are left-padded');
  assert.equal(parseB3Single('0'), null);
  assert.equal(parseB3Single(`${TRACE}-${SPAN}-x`), null);

  const multi = { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' };
  assert.equal(extractParent(multi)?.format, 'b3multi');
  assert.equal(extractParent(multi)?.sampled, false);
  assert.equal(extractParent({ ...multi, 'x-b3-flags': '1' })?.sampled, true, 'debug implies sampled');
  const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  assert.equal(extractParent({ ...multi, b3: `${other}-${SPAN}-1` })?.traceId, other, 'b3 single wins over multi');
  assert.equal(extractParent({ traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${other}-${SPAN}-1` })?.format, 'w3c', 'W3C wins');
  assert.equal(extractParent({ traceparent: `00-${TRACE.toUpperCase()}-${SPAN}-01`, b3: `${other}-${SPAN}-1` })?.traceId, other, 'an invalid traceparent falls back to B3');
  assert.equal(extractParent({}), null);
});

test('baggage: meshlet.run is read, decoded and bounded', () => {
  assert.equal(baggageRun('a=1, meshlet.run=run%2042;prop=x ,b=2'), 'run 42');
  assert.equal(baggageRun(['x=1', 'meshlet.run=r1']), 'r1');
  assert.equal(baggageRun('meshlet.runner=1'), null);
  assert.equal(baggageRun('meshlet.run=%E0%A4%A'), null);
  assert.equal(baggageRun(undefined), null);
});
