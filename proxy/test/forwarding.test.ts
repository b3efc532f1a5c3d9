// A sidecar pair on loopback: app → outbound sidecar → inbound sidecar → app, with real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MESH_ERROR_HEADER, REASON_HINTS } from '@meshlet/wire';
import { echoApp, get, startServer, startSidecar } from './helpers.ts';

test('a request crosses the pair by Host, VIP and absolute-form, with context and caller', async (t) => {
  const app = await echoApp();
  t.after(() => app.close());
  const callee = await startSidecar({ service: 'payments', app: app.address });
  t.after(() => callee.close());
  const caller = await startSidecar({
    service: 'orders',
    app: null,
    destinations: { payments: { vip: '10.78.0.9', port: 8080, endpoints: [{ address: callee.inbound }] } },
  });
  t.after(() => caller.close());

  const byHost = await get(`http://${caller.outbound}/pay/1?x=2`, { host: 'payments:8080', 'x-request-id': 'req-1' });
  assert.equal(byHost.status, 200);
  const seen = byHost.json() as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/pay/1?x=2');
  assert.equal(seen.headers.host, 'payments:8080');
  assert.equal(seen.headers['x-request-id'], 'req-1');
  assert.match(seen.headers.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(seen.headers['x-meshlet-caller'], undefined, 'the caller header is for the sidecar, not the app');

  const byVip = await get(`http://${caller.outbound}/v`, { host: '10.78.0.9:8080' });
  assert.equal(byVip.status, 200);

  // HTTP_PROXY clients send absolute-form targets.
  const abs = await new Promise<string>((resolve, reject) => {
    const [h, p] = caller.outbound.split(':');
    import('node:http').then(({ default: http }) => {
      http
        .get({ host: h, port: Number(p), path: 'http://payments/abs?q=1', headers: { host: 'ignored.example' } }, (res) => {
          let s = '';
          res.on('data', (c: Buffer) => (s += c.toString()));
          res.on('end', () => resolve(s));
        })
        .on('error', reject);
    }, reject);
  });
  const absSeen = JSON.parse(abs) as { url: string; headers: Record<string, string> };
  assert.equal(absSeen.url, '/abs?q=1');
  assert.equal(absSeen.headers.host, 'payments');

  const posted = await get(`http://${caller.outbound}/post`, { host: 'payments', 'content-type': 'text/plain' }, 'POST', 'x'.repeat(100_000));
  assert.equal((posted.json() as { bytes: number }).bytes, 100_000);
});

test('proxy-made failures carry x-meshlet-error and the JSON body', async (t) => {
  const dead = await startServer(() => {});
  const deadAddress = dead.address;
  await dead.close(); // nothing listens there any more
  const caller = await startSidecar({
    service: 'orders',
    app: null,
    destinations: {
      payments: { endpoints: [{ address: deadAddress }], retry: { maxRetries: 0 } },
      empty: { endpoints: [] },
      unready: { endpoints: [{ address: deadAddress, ready: false }] },
    },
  });
  t.after(() => caller.close());

  const unknown = await get(`http://${caller.outbound}/`, { host: 'nope' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers[MESH_ERROR_HEADER], 'unknown_service');
  const body = unknown.json();
  assert.deepEqual(Object.keys(body).sort(), ['endpoint', 'error', 'hint', 'reason', 'service', 'traceId']);
  assert.equal(body.reason, 'unknown_service');
  assert.equal(body.hint, REASON_HINTS.unknown_service);
  assert.match(String(body.traceId), /^[0-9a-f]{32}$/);

  const refused = await get(`http://${caller.outbound}/`, { host: 'payments' });
  assert.equal(refused.status, 502);
  assert.equal(refused.headers[MESH_ERROR_HEADER], 'connect_refused');
  assert.equal(refused.json().endpoint, deadAddress);
  assert.equal(refused.json().service, 'payments');

  for (const host of ['empty', 'unready']) {
    const none = await get(`http://${caller.outbound}/`, { host });
    assert.equal(none.status, 503);
    assert.equal(none.headers[MESH_ERROR_HEADER], 'no_endpoints');
  }
});

test('a 5xx from the app passes through untouched', async (t) => {
  const app = await startServer((_req, res) => {
    res.writeHead(500, { 'x-app': 'mine' });
    res.end('app broke');
  });
  t.after(() => app.close());
  const callee = await startSidecar({ service: 'payments', app: app.address });
  t.after(() => callee.close());
  const caller = await startSidecar({ service: 'orders', app: null, destinations: { payments: { endpoints: [{ address: callee.inbound }] } } });
  t.after(() => caller.close());
  const res = await get(`http://${caller.outbound}/`, { host: 'payments' });
  assert.equal(res.status, 500);
  assert.equal(res.text, 'app broke');
  assert.equal(res.headers['x-app'], 'mine');
  assert.equal(res.headers[MESH_ERROR_HEADER], undefined);
});
