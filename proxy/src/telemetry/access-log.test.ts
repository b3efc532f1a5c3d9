import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { formatAccessLine, type AccessEntry } from './access-log.ts';

/** What pino itself writes for `entry` at `nowMs` (the format the access log promises); pino writes synchronously. */
function pinoLine(entry: AccessEntry, nowMs: number): string {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const logger = pino({ base: null, messageKey: 'msg', timestamp: () => `,"time":"${new Date(nowMs).toISOString()}"` }, sink);
  logger.info(entry, 'access');
  return out;
}

const entry: AccessEntry = {
  direction: 'outbound',
  method: 'GET',
  authority: 'payments',
  path: '/pay?x="1"&y=\\é\u0001',
  status: 503,
  reason: 'no_endpoints',
  origin: 'proxy',
  service: 'payments',
  peer: null,
  route: '/pay',
  endpoint: null,
  durationMs: 1.234,
  bytesOut: 120,
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  requestId: 'req-1',
  attempts: 2,
  faultInjected: false,
};

test('formatAccessLine writes the same line as pino, byte for byte', () => {
  const now = Date.UTC(2026, 10, 29, 13, 0, 0, 123);
  assert.equal(formatAccessLine(entry, now), pinoLine(entry, now));
  const other = { ...entry, peer: 'orders', endpoint: '127.0.0.1:1', reason: null, origin: null, faultInjected: true, traceId: null, spanId: null };
  assert.equal(formatAccessLine(other, now + 1), pinoLine(other, now + 1));
  assert.deepEqual(JSON.parse(formatAccessLine(entry, now)), { level: 30, time: '2026-11-29T13:00:00.123Z', ...entry, msg: 'access' });
});
