import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStreamWindow, parseDuration, readWindow, windowApiParams, windowQuery, writeWindow } from './time-window.ts';

test('durations: 15m, 1h, 7d; anything else is rejected', () => {
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('30s'), 30_000);
  for (const bad of ['', '15', 'm', '-5m', '0m', '5 minutes']) assert.equal(parseDuration(bad), undefined, bad);
});

test('the window round-trips through the URL and falls back to the last 15 minutes', () => {
  assert.deepEqual(readWindow(new URLSearchParams('')), { kind: 'lookback', lookback: '15m', lookbackMs: 900_000 });
  assert.deepEqual(readWindow(new URLSearchParams('lookback=nonsense')), { kind: 'lookback', lookback: '15m', lookbackMs: 900_000 });
  const range = readWindow(new URLSearchParams('from=2026-01-02T03:04:05.000Z&to=1767323345000&run=r1'));
  assert.deepEqual(range, { kind: 'range', from: Date.parse('2026-01-02T03:04:05.000Z'), to: 1767323345000, run: 'r1' });
  assert.deepEqual(windowApiParams(range), { from: range.kind === 'range' ? range.from : 0, to: 1767323345000, run: 'r1' });
  const written = writeWindow(new URLSearchParams('service=cart&lookback=1h'), range);
  assert.equal(written.get('service'), 'cart');
  assert.equal(written.get('lookback'), null);
  assert.deepEqual(readWindow(written), range);
  // A range whose end is before its start is not a range.
  assert.equal(readWindow(new URLSearchParams('from=2000&to=1000')).kind, 'lookback');
});

test('only the default window is covered by the live stream', () => {
  assert.equal(isStreamWindow(readWindow(new URLSearchParams(''))), true);
  assert.equal(isStreamWindow(readWindow(new URLSearchParams('lookback=1h'))), false);
  assert.equal(isStreamWindow(readWindow(new URLSearchParams('run=x'))), false);
});

test('moving between views keeps the window and drops view state', () => {
  assert.equal(windowQuery(new URLSearchParams('lookback=1h&service=cart&run=r')), '?lookback=1h&run=r');
  assert.equal(windowQuery(new URLSearchParams('span=abc')), '');
});
