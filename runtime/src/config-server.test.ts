import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { CONFIG_API, sidecarConfigSchema, type SidecarConfig } from '@meshlet/wire';
import { createConfigServer } from './config-server.ts';

const cfg = (endpoints: string[]): SidecarConfig =>
  sidecarConfigSchema.parse({ service: 'web', app: '127.0.0.1:8080', destinations: { api: { endpoints: endpoints.map((address) => ({ address })) } } });

function get(addr: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET with ETag and 304; unknown pods and writes are refused', async (t) => {
  const server = await createConfigServer({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006'])]]));
  const r = await get(server.address(), CONFIG_API.podConfigPath('web-1'));
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as SidecarConfig;
  assert.equal(body.revision, 1);
  assert.equal(r.headers['etag'], '"1"');
  assert.ok(sidecarConfigSchema.safeParse(body).success);
  assert.equal((await get(server.address(), CONFIG_API.podConfigPath('web-1'), { 'if-none-match': '"1"' })).status, 304);
  assert.equal((await get(server.address(), CONFIG_API.podConfigPath('nope'))).status, 404);
  // The same config again keeps its revision; a change bumps it.
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006'])]]));
  assert.equal(server.revision('web-1'), 1);
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006', '10.0.0.3:15006'])]]));
  assert.equal(server.revision('web-1'), 2);
});

test('the watch stream gets the config at once and every change right away', async (t) => {
  const server = await createConfigServer({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006'])], ['web-2', cfg([])]]));
  const [host, port] = server.address().split(':');
  const events: { revision: number; at: number }[] = [];
  const stream = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host, port, path: `${CONFIG_API.podConfigPath('web-1')}?${CONFIG_API.watchQuery}` }, resolve);
    req.on('error', reject);
    req.end();
  });
  t.after(() => stream.destroy());
  assert.equal(stream.headers['content-type'], 'text/event-stream');
  let buffer = '';
  const got = new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        assert.match(frame, new RegExp(`^event: ${CONFIG_API.event}\n`));
        const data = frame.split('\n').find((l) => l.startsWith('data: '))?.slice(6) ?? '{}';
        events.push({ revision: (JSON.parse(data) as SidecarConfig).revision, at: Date.now() });
        if (events.length === 2) resolve();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 50));
  const changedAt = Date.now();
  // A change to another pod is not sent on this stream.
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006'])], ['web-2', cfg(['10.0.0.9:15006'])]]));
  server.update(new Map([['web-1', cfg(['10.0.0.2:15006', '10.0.0.4:15006'])], ['web-2', cfg(['10.0.0.9:15006'])]]));
  await got;
  assert.deepEqual(events.map((e) => e.revision), [1, 4]);
  assert.ok((events[1]?.at ?? Infinity) - changedAt < 1000, 'pushed within a second');
});

test('a config with a private key: only clients mayReadKey allows get the key, others get it redacted', async (t) => {
  const allowed = new Set<string>();
  const server = await createConfigServer({ host: '127.0.0.1', port: 0, mayReadKey: (pod, remote) => allowed.has(`${pod}@${remote}`) });
  t.after(() => server.close());
  const withTls = (cert: string) => sidecarConfigSchema.parse({ service: 'web', app: '127.0.0.1:8080', tls: { certPem: cert, keyPem: 'THE KEY', caPem: 'ca', identity: 'spiffe://m/svc/web' } });
  server.update(new Map([['web-1', withTls('cert 1')], ['web-2', cfg([])]]));
  const path = CONFIG_API.podConfigPath('web-1');
  const other = JSON.parse((await get(server.address(), path)).body) as SidecarConfig;
  assert.deepEqual(other.tls, { certPem: 'cert 1', keyPem: '(redacted)', caPem: 'ca', identity: 'spiffe://m/svc/web' });
  // A config without tls is served as it is.
  assert.equal((await get(server.address(), CONFIG_API.podConfigPath('web-2'))).status, 200);
  allowed.add('web-1@127.0.0.1');
  const own = JSON.parse((await get(server.address(), path)).body) as SidecarConfig;
  assert.equal(own.tls?.keyPem, 'THE KEY');
  assert.equal(own.revision, other.revision);
  // Watch streams: the allowed one sees the key in every push, the other never.
  const [host, port] = server.address().split(':');
  const open = (localAddress: string) =>
    new Promise<IncomingMessage>((resolve, reject) => request({ host, port, localAddress, path: `${path}?${CONFIG_API.watchQuery}` }, resolve).on('error', reject).end());
  const streams = { own: await open('127.0.0.1'), other: await open('127.0.0.2') };
  t.after(() => Object.values(streams).forEach((s) => s.destroy()));
  const text = { own: '', other: '' };
  for (const k of ['own', 'other'] as const) streams[k].on('data', (c: Buffer) => (text[k] += c.toString()));
  server.update(new Map([['web-1', withTls('cert 2')], ['web-2', cfg([])]]));
  const frames = (k: 'own' | 'other') => text[k].split('\n\n').filter((f) => f.includes('data: '));
  for (let i = 0; i < 100 && (frames('own').length < 2 || frames('other').length < 2); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(frames('own').length, 2);
  assert.equal(frames('other').length, 2);
  assert.ok(frames('own').every((f) => f.includes('THE KEY')));
  assert.ok(frames('other').every((f) => !f.includes('THE KEY') && f.includes('(redacted)')));
  assert.ok(frames('other')[1]?.includes('cert 2'));
});
