import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogView, SpanView, TraceDetail } from '@meshlet/wire';
import { ancestors, blamedService, buildWaterfall, compareNano, offsetMs, operationOf } from './trace-model.ts';

const T0 = 1_700_000_000_000_000_000n;
function span(spanId: string, parentSpanId: string | null, startOffsetMs: number): SpanView {
  const start = T0 + BigInt(startOffsetMs * 1e6);
  return {
    spanId,
    parentSpanId,
    service: 's',
    name: spanId,
    kind: 'server',
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 1_000_000n),
    startOffsetMs,
    durationMs: 1,
    status: { code: 'unset' },
    attributes: {},
    resource: {},
    events: [],
    role: null,
  };
}
function log(spanId: string | undefined, atMs: number): LogView {
  return { timeUnixNano: String(T0 + BigInt(atMs * 1e6)), timeMs: 0, severityText: 'INFO', severityNumber: 9, body: `at ${atMs}`, service: 's', attributes: {}, ...(spanId ? { spanId } : {}) };
}
function trace(spans: SpanView[], logs: LogView[] = []): TraceDetail {
  return { traceId: 't', startMs: 0, durationMs: 10, spans, logs, events: [], origins: [], propagation: [], criticalPath: [], dropsContext: [] };
}

test('spans in tree order, children by start time, with depth; logs under their span', () => {
  const model = buildWaterfall(trace([span('c2', 'root', 5), span('root', null, 0), span('c1', 'root', 1), span('g', 'c1', 2)], [log('g', 3), log(undefined, 4), log('nope', 1)]));
  assert.deepEqual(
    model.rows.map((r) => [r.span.spanId, r.depth]),
    [['root', 0], ['c1', 1], ['g', 2], ['c2', 1]],
  );
  assert.equal(model.rows[0]!.childCount, 2);
  assert.deepEqual(model.rows[2]!.logs.map((l) => l.body), ['at 3']);
  assert.deepEqual(model.looseLogs.map((l) => l.body), ['at 1', 'at 4'], 'logs naming no span of the trace, by time');
  assert.equal(offsetMs(log(undefined, 4).timeUnixNano, model.startNano), 4);
});

test('a span whose parent is missing is kept as an orphan; a parent cycle neither loops nor loses spans', () => {
  const model = buildWaterfall(trace([span('a', null, 0), span('lost', 'gone', 1), span('x', 'y', 2), span('y', 'x', 3)]));
  assert.deepEqual(new Set(model.rows.map((r) => r.span.spanId)), new Set(['a', 'lost', 'x', 'y']));
  assert.equal(model.rows.find((r) => r.span.spanId === 'lost')!.orphan, true);
  assert.deepEqual(ancestors(trace([span('x', 'y', 0), span('y', 'x', 1)]), 'x'), ['y']);
});

test('nanosecond strings compare exactly', () => {
  assert.equal(compareNano('1544712660000000123', '1544712660000000124'), -1);
  assert.equal(compareNano('1544712660000000123', '1544712660000000123'), 0);
});

test('a proxy-made failure on a client span is blamed on the callee; routes name attempts', () => {
  const attempt: SpanView = {
    ...span('a', null, 0),
    kind: 'client',
    name: 'GET attempt',
    service: 'catalog',
    errorOrigin: 'proxy',
    attributes: { 'meshlet.peer.service': 'pricing', 'http.request.method': 'GET', 'http.route': '/prices' },
  };
  assert.equal(blamedService(attempt), 'pricing');
  assert.equal(operationOf(attempt), 'GET /prices');
  assert.equal(blamedService({ ...attempt, errorOrigin: 'app' }), 'catalog', 'an app error is the service’s own');
  assert.equal(operationOf(span('b', null, 0)), 'b');
});
