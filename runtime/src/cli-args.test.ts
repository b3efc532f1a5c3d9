import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScaleArgs, parseSince, parseSwitch, parseTimeout, parseWeights } from './cli-args.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';
import { colours, formatAge, formatBytes, formatPercent, table } from './format.ts';

const bad = (err: unknown) => err instanceof RuntimeError && err.code === ERROR_CODES.badRequest;

test('scale, traffic and fault arguments', () => {
  assert.deepEqual(parseScaleArgs(['orders=3', 'catalog/green=0']), [
    { service: 'orders', version: undefined, replicas: 3 },
    { service: 'catalog', version: 'green', replicas: 0 },
  ]);
  assert.throws(() => parseScaleArgs(['orders']), bad);
  assert.throws(() => parseScaleArgs([]), bad);
  assert.deepEqual(parseWeights(['blue=10', 'green=90%']), { blue: 10, green: 90 });
  assert.throws(() => parseWeights(['blue=10', 'blue=5']), bad);
  assert.throws(() => parseWeights(['blue:10']), bad);
  assert.equal(parseSwitch('on'), true);
  assert.equal(parseSwitch('OFF'), false);
  assert.throws(() => parseSwitch('maybe'), bad);
});

test('--since takes a duration ago or a timestamp; --timeout a duration', () => {
  assert.equal(parseSince('10m', 1_000_000), 400_000);
  assert.equal(parseSince('2024-05-01T10:00:00Z', 0), Date.UTC(2024, 4, 1, 10));
  assert.throws(() => parseSince('yesterday', 0), bad);
  assert.equal(parseTimeout('90s'), 90_000);
  assert.throws(() => parseTimeout('0s'), bad);
});

test('tables align, colour only on a TTY and never with NO_COLOR', () => {
  assert.equal(table(['A', 'LONGER'], [['x', '1'], ['yyyy', '22']]), 'A      LONGER\nx      1\nyyyy   22');
  assert.equal(colours({ isTTY: true }, {})('ok', 'green'), '\x1b[32mok\x1b[0m');
  assert.equal(colours({ isTTY: true }, { NO_COLOR: '1' })('ok', 'green'), 'ok');
  assert.equal(colours({ isTTY: false }, {})('ok', 'green'), 'ok');
  // Colour codes do not count towards the width.
  const paint = colours({ isTTY: true }, {});
  assert.equal(table(['S', 'X'], [[paint('run', 'green'), 'a']]).split('\n')[1], `${paint('run', 'green')}   a`);
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(undefined), '-');
  assert.equal(formatAge(125_000), '2m');
  assert.equal(formatPercent(0.5), '0.50%');
});
