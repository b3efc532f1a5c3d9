// HTTP/1.1 behaviour through the sidecar: streaming with backpressure, trailers, 100-continue,
// Upgrade passthrough, header limits (431, never truncated), slowloris, parse errors upstream, drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { MESH_ERROR_HEADER } from '@meshlet/wire';
import { echoApp, get, startCollector, startServer, startSidecar } from './helpers.ts';

function rawExchange(address: string, payload: string, waitMs = 1_000): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), host);
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(out));
    sock.write(payload);
    setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, waitMs).unref();
  });
}

test('a slow reader pauses the upstream: the proxy does not buffer the body', async (t) => {
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const total = 256 * 1024 * 1024;
  const app = await startServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const pump = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'big', app: app.address });
  t.after(() => sc.close());
  const [host, port] = sc.inbound.split(':');
  const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ host, port: Number(port), path: '/', headers: { host: 'big' } }, resolve));
  res.pause();
  await new Promise((r) => setTimeout(r, 500));
  const stalledAt = written;
  // Socket buffers on three hops (app → proxy, proxy → client, client) hold a few MiB at most.
  assert.ok(stalledAt < 32 * 1024 * 1024, `upstream stalled at ${stalledAt} bytes of ${total}`);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(written - stalledAt < 1024 * 1024, 'and stays stalled while the client does not read');
  let received = 0;
  res.on('data', (c: Buffer) => (received += c.length));
  res.resume();
  await new Promise((r) => res.once('end', r));
  assert.equal(received, total);
});

test('trailers pass through the pair; chunked and fixed-length bodies keep their framing', async (t) => {
  const app = await startServer((req, res) => {
    if (req.url === '/trailers') {
      res.writeHead(200, { trailer: 'grpc-status', 'content-type': 'application/grpc' });
      res.write('part1');
      res.write('part2');
      res.addTrailers({ 'grpc-status': '0' });
      res.end();
      return;
    }
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(JSON.stringify({ n, te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null })));
  });
  t.after(() => app.close());
  const callee = await startSidecar({ service: 'grpc', app: app.address });
  t.after(() => callee.close());
  const caller = await startSidecar({ service: 'client', app: null, destinations: { grpc: { endpoints: [{ address: callee.inbound }], retry: { maxRetries: 0 } } } });
  t.after(() => caller.close());
  const out = await rawExchange(caller.outbound, 'GET /trailers HTTP/1.1\r\nhost: grpc\r\nte: trailers\r\nconnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200/);
  assert.match(out, /transfer-encoding: chunked/i);
  assert.match(out, /part1/);
  assert.match(out, /\r\n0\r\ngrpc-status: 0\r\n\r\n$/i, 'trailer after the last chunk');

  const chunked = await rawExchange(caller.outbound, 'POST /c HTTP/1.1\r\nhost: grpc\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  // A chunked body already complete may be re-framed with a Content-Length (RFC 9112 §7): same bytes.
  assert.match(chunked, /\{"n":11,("te":"chunked","cl":null|"te":null,"cl":"11")\}/);
  const fixed = await rawExchange(caller.outbound, 'POST /f HTTP/1.1\r\nhost: grpc\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
  assert.match(fixed, /\{"n":5,"te":null,"cl":"5"\}/);
});

test('Expect: 100-continue gets 100 from the sidecar, then the body is forwarded', async (t) => {
  const app = await echoApp();
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'up', app: app.address });
  t.after(() => sc.close());
  const [host, port] = sc.inbound.split(':');
  const sock = net.connect(Number(port), host);
  t.after(() => sock.destroy());
  let out = '';
  sock.on('data', (c: Buffer) => (out += c.toString()));
  sock.write('POST /upload HTTP/1.1\r\nhost: up\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n');
  const deadline = Date.now() + 2_000;
  while (!out.includes('100 Continue') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  assert.doesNotMatch(out, /200 OK/, 'no final response before the body');
  sock.write('data');
  while (!out.includes('"bytes":4') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.match(out, /"bytes":4/);
  assert.doesNotMatch(out, /"expect"/, 'the expectation was met here, not forwarded');
});

test('Upgrade requests pass through as raw sockets, both directions', async (t) => {
  const app = http.createServer((_req, res) => res.end('plain'));
  app.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\nx-tp: ${String(req.headers.traceparent)}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    // Half-close passes through the tunnels; the app closes its side in turn, as WebSocket servers do.
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => {
    app.closeAllConnections();
    app.close();
  });
  const appAddress = `127.0.0.1:${(app.address() as net.AddressInfo).port}`;
  const callee = await startSidecar({ service: 'ws', app: appAddress });
  t.after(() => callee.close());
  const collector = await startCollector();
  t.after(() => collector.close());
  const caller = await startSidecar({ service: 'client', app: null, collector: collector.url, destinations: { ws: { endpoints: [{ address: callee.inbound }] } } }, { tracerOptions: { flushIntervalMs: 50 } });
  t.after(() => caller.close());
  const [host, port] = caller.outbound.split(':');
  const sock = net.connect(Number(port), host);
  t.after(() => sock.destroy());
  let out = '';
  sock.on('data', (c: Buffer) => (out += c.toString()));
  sock.write('GET /socket HTTP/1.1\r\nhost: ws\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
  const wait = async (re: RegExp) => {
    const deadline = Date.now() + 2_000;
    while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.match(out, re);
  };
  await wait(/101 Switching Protocols/);
  assert.match(out, /x-tp: 00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]/, 'trace context reaches the app');
  sock.write('ping');
  await wait(/echo:ping/);
  sock.write('again');
  await wait(/echo:again/);
  sock.end();
  // The tunnel has a CLIENT span from handshake to close, in the trace the app saw.
  const [span] = await collector.waitFor((s) => s.name === 'GET upgrade' && s.kind === 3);
  assert.equal(span?.attributes['meshlet.peer.service'], 'ws');
  assert.ok(out.includes(`x-tp: 00-${span?.traceId}-`), 'the app is in the same trace');
});

test('header limits: too many lines or bytes → 431, never truncated; malformed → 400', async (t) => {
  let reached = 0;
  const app = await startServer((_req, res) => {
    reached++;
    res.end('ok');
  });
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'lim', app: app.address, limits: { maxHeaderCount: 20, maxHeaderBytes: 4096 } });
  t.after(() => sc.close());
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
  const ok = await rawExchange(sc.inbound, `GET / HTTP/1.1\r\nhost: lim\r\n${lines(18)}connection: close\r\n\r\n`);
  assert.match(ok, /^HTTP\/1\.1 200/);
  const many = await rawExchange(sc.inbound, `GET / HTTP/1.1\r\nhost: lim\r\n${lines(30)}connection: close\r\n\r\n`);
  assert.match(many, /^HTTP\/1\.1 431/);
  assert.match(many, new RegExp(`${MESH_ERROR_HEADER}: header_overflow`));
  const big = await rawExchange(sc.inbound, `GET / HTTP/1.1\r\nhost: lim\r\nx-big: ${'a'.repeat(5000)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431/);
  assert.match(big, /"reason":"header_overflow"/);
  const bad = await rawExchange(sc.inbound, 'GET / HTTP/1.1\r\nhost: lim\r\nbad header\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 400/);
  assert.match(bad, /"reason":"bad_request"/);
  assert.equal(reached, 1, 'only the request within limits reached the app');
});

test('slowloris: headers that do not complete in time are cut off', async (t) => {
  const app = await startServer((_req, res) => res.end('ok'));
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'slow', app: app.address, limits: { headersTimeoutMs: 400 } });
  t.after(() => sc.close());
  const [host, port] = sc.inbound.split(':');
  const sock = net.connect(Number(port), host);
  sock.on('error', () => {});
  let out = '';
  sock.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise<number>((resolve) => sock.on('close', () => resolve(Date.now())));
  const started = Date.now();
  sock.write('GET / HTTP/1.1\r\nhost: slow\r\n');
  const drip = setInterval(() => sock.writable && sock.write('x-a: b\r\n'), 100);
  t.after(() => clearInterval(drip));
  const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 3_000))]);
  clearInterval(drip);
  sock.destroy();
  assert.ok(at > 0, 'connection closed by the sidecar');
  assert.ok(at - started < 2_500, `closed after ${at - started} ms`);
  assert.match(out, /408/);
});

test('an upstream that breaks the protocol: 502 upstream_reset, and its socket is not reused', async (t) => {
  let connections = 0;
  let requests = 0;
  const upstream = net.createServer((sock) => {
    connections++;
    sock.on('data', () => {
      requests++;
      // First request: garbage. Later: a valid response.
      if (requests === 1) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!');
      else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.after(() => upstream.close());
  const address = `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
  const sc = await startSidecar({ service: 'c', app: null, destinations: { up: { endpoints: [{ address }], retry: { maxRetries: 0 } } } });
  t.after(() => sc.close());
  const first = await get(`http://${sc.outbound}/`, { host: 'up' });
  assert.equal(first.status, 502);
  assert.equal(first.headers[MESH_ERROR_HEADER], 'upstream_reset');
  const second = await get(`http://${sc.outbound}/`, { host: 'up' });
  assert.equal(second.status, 200);
  assert.equal(second.text, 'ok');
  assert.equal(connections, 2, 'a new connection after the parse error');
});

test('drain: in-flight requests finish, new connections are refused, /ready turns 503', async (t) => {
  let arrived: () => void = () => {};
  const reachedApp = new Promise<void>((r) => (arrived = r));
  const app = await startServer((_req, res) => {
    arrived();
    setTimeout(() => res.end('done'), 400);
  });
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'd', app: app.address });
  const inflight = get(`http://${sc.inbound}/`, { host: 'd' });
  await reachedApp;
  const draining = sc.sidecar.drain();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await get(`http://${sc.admin}/ready`)).status, 503);
  await assert.rejects(get(`http://${sc.inbound}/`, { host: 'd' }), /ECONNREFUSED/);
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(res.text, 'done');
  await draining;
  await sc.close();
});

test('keep-alive upstream: sequential small responses reuse one connection', async (t) => {
  let connections = 0;
  const app = await startServer((_req, res) => res.end('small'));
  app.server.on('connection', () => connections++);
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'ka', app: app.address });
  t.after(() => sc.close());
  for (let i = 0; i < 50; i++) assert.equal((await get(`http://${sc.inbound}/`, { host: 'ka' })).text, 'small');
  assert.equal(connections, 1);
});

test('idle keep-alive: the app-facing outbound listener keeps connections long, the inbound one closes them after keepAliveTimeoutMs', async (t) => {
  const app = await echoApp();
  t.after(() => app.close());
  const limits = { keepAliveTimeoutMs: 200, appKeepAliveTimeoutMs: 60_000 };
  const callee = await startSidecar({ service: 'echo', app: app.address, limits });
  t.after(() => callee.close());
  const caller = await startSidecar({ service: 'client', app: null, limits, destinations: { echo: { endpoints: [{ address: callee.inbound }] } } });
  t.after(() => caller.close());
  const keepAlive = (address: string) => {
    const [host, port] = address.split(':');
    const sock = net.connect(Number(port), host);
    let closed = false;
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => (closed = true));
    const ask = async () => {
      out = '';
      sock.write('GET /ka HTTP/1.1\r\nhost: echo\r\n\r\n');
      for (let i = 0; i < 200 && !/^HTTP\/1\.1 \d+[^]*\r\n\r\n/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
      return out;
    };
    t.after(() => sock.destroy());
    return { ask, closed: () => closed };
  };
  const fromApp = keepAlive(caller.outbound);
  const fromPeer = keepAlive(callee.inbound);
  assert.match(await fromApp.ask(), /^HTTP\/1\.1 200/);
  assert.match(await fromPeer.ask(), /^HTTP\/1\.1 200/);
  // Node waits keepAliveTimeout plus its 1 s keepAliveTimeoutBuffer before closing an idle connection.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(fromPeer.closed(), true, 'the inbound listener closed the idle connection');
  assert.equal(fromApp.closed(), false, 'the outbound listener kept the app\'s idle connection');
  assert.match(await fromApp.ask(), /^HTTP\/1\.1 200/, 'and the app can reuse it');
});
