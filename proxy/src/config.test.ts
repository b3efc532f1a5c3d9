import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envOverrides, merge, overlay, parseConfig, parseEndpointFlag } from './config.ts';
import { SseParser } from './config-watch.ts';

test('precedence: flags > env > file > defaults', () => {
  const file = { service: 'file', app: '127.0.0.1:1', listen: { admin: '127.0.0.1:9' }, destinations: { pay: { timeoutMs: 5, endpoints: [{ address: 'a:1' }] } } };
  const env = envOverrides({ MESHLET_PROXY_SERVICE: 'env', MESHLET_PROXY_ENDPOINT: 'pay=b:1,b:2; ship=c:1', MESHLET_PROXY_TEST_MODE: '1' });
  const cfg = parseConfig(overlay(file, env, { app: '127.0.0.1:2' }), 'test');
  assert.equal(cfg.service, 'env');
  assert.equal(cfg.app, '127.0.0.1:2');
  assert.equal(cfg.testMode, true);
  assert.equal(cfg.listen.admin, '127.0.0.1:9');
  assert.equal(cfg.listen.inbound, '127.0.0.1:15006', 'defaults');
  assert.deepEqual(cfg.destinations.pay?.endpoints.map((e) => e.address), ['b:1', 'b:2']);
  assert.equal(cfg.destinations.pay?.timeoutMs, 5, 'the rest of the file destination stays');
  assert.deepEqual(cfg.destinations.ship?.endpoints.map((e) => e.address), ['c:1']);
  assert.ok(Object.isFrozen(cfg));
});

test('app protocol: http by default, h2c from the file, env or flag; anything else is a listed problem', () => {
  assert.equal(parseConfig({ service: 's', app: '127.0.0.1:1' }, 'test').appProtocol, 'http');
  assert.equal(parseConfig(overlay({ service: 's', app: '127.0.0.1:1' }, envOverrides({ MESHLET_PROXY_APP_PROTOCOL: 'h2c' }), {}), 'test').appProtocol, 'h2c');
  assert.equal(parseConfig(overlay({ service: 's', app: '127.0.0.1:1', appProtocol: 'h2c' }, {}, { appProtocol: 'http' }), 'test').appProtocol, 'http');
  assert.throws(() => parseConfig({ service: 's', app: '127.0.0.1:1', appProtocol: 'grpc' }, 'f.yaml'), (err: Error & { problems?: string[] }) => err.problems?.[0]?.startsWith('appProtocol:') === true);
});

test('every problem is listed with its path', () => {
  assert.throws(
    () => parseConfig({ service: 'X', app: 'nope', destinations: { pay: { endpoints: [{ address: 'bad' }] } } }, 'f.yaml'),
    (err: Error & { code?: string; problems?: string[] }) => {
      assert.equal(err.code, 'ERR_PROXY_CONFIG');
      assert.equal(err.problems?.length, 3);
      assert.ok(err.problems?.some((p) => p.startsWith('destinations.pay.endpoints.0.address:')));
      return true;
    },
  );
  assert.throws(() => parseEndpointFlag('pay'), { code: 'ERR_PROXY_USAGE' });
  assert.throws(() => envOverrides({ MESHLET_PROXY_TEST_MODE: 'maybe' }), { code: 'ERR_PROXY_USAGE' });
  assert.deepEqual(merge({ a: { b: 1, c: [1] } }, { a: { c: [2] } }), { a: { b: 1, c: [2] } });
});

test('SSE parser: events, comments, multi-line data, CRLF, split chunks', () => {
  const got: [string, string][] = [];
  const p = new SseParser((e, d) => got.push([e, d]));
  p.feed(': ping\n\nevent: config\ndata: {"a":\r\ndata: 1}\r\n\r');
  p.feed('\ndata: plain\n\nevent: x\n');
  assert.deepEqual(got, [
    ['config', '{"a":\n1}'],
    ['message', 'plain'],
  ]);
});
