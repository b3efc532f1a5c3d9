import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDurationMs, parseSizeBytes } from './quantities.ts';

test('durations parse with units, compounds and bare milliseconds', () => {
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('1m30s'), 90_000);
  assert.equal(parseDurationMs('2h'), 7_200_000);
  assert.equal(parseDurationMs('500us'), 0.5);
  assert.equal(parseDurationMs(40), 40);
  assert.equal(parseDurationMs('40'), 40);
});

test('durations reject what is not one', () => {
  for (const bad of ['', 'fast', '10 parsecs', '1d', '-5s', 's', '1s2', -1, Number.NaN]) {
    assert.equal(parseDurationMs(bad), undefined, String(bad));
  }
});

test('sizes accept Kubernetes, SI and Docker suffixes', () => {
  assert.equal(parseSizeBytes('128Mi'), 128 * 1024 * 1024);
  assert.equal(parseSizeBytes('1Gi'), 1024 ** 3);
  assert.equal(parseSizeBytes('256m'), 256 * 1024 * 1024);
  assert.equal(parseSizeBytes('10MB'), 10_000_000);
  assert.equal(parseSizeBytes('512k'), 512 * 1024);
  assert.equal(parseSizeBytes(4096), 4096);
  assert.equal(parseSizeBytes('0.5Gi'), 512 * 1024 * 1024);
});

test('sizes reject unknown units and negative or fractional byte counts', () => {
  for (const bad of ['lots', '12 parsecs', '1Ti', -1, 1.5, '']) {
    assert.equal(parseSizeBytes(bad), undefined, String(bad));
  }
});

test('formatDurationMs round-trips through parseDurationMs', () => {
  for (const ms of [1, 250, 1000, 1500, 30_000]) {
    assert.equal(parseDurationMs(formatDurationMs(ms)), ms);
  }
});
