// h2c (HTTP/2 with prior knowledge, as gRPC uses) between apps and their sidecars: a real gRPC client
// (@grpc/grpc-js) → outbound sidecar → (HTTP/1.1 with trailers) → inbound sidecar → a real gRPC server,
// plain node:http2 clients and apps, HTTP/1.1 on the same port, malformed HTTP/2, drain with GOAWAY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ATTR } from '@meshlet/wire';
import { get, spawnProxy, startCollector, startSidecar, type TestSidecar } from './helpers.ts';

const SERVER = 2;
const CLIENT = 3;
const fast = { tracerOptions: { flushIntervalMs: 50 } };

// A gRPC service with JSON messages (no codegen needed; the framing and status are real gRPC).
const json = {
  requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
  responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const greeter = {
  hello: { path: '/demo.Greeter/Hello', requestStream: false, responseStream: false, ...json },
  count: { path: '/demo.Greeter/Count', requestStream: false, responseStream: true, ...json },
  fail: { path: '/demo.Greeter/Fail', requestStream: false, responseStream: false, ...json },
  slow: { path: '/demo.Greeter/Slow', requestStream: false, responseStream: false, ...json },
  chat: { path: '/demo.Greeter/Chat', requestStream: true, responseStream: true, ...json },
  sum: { path: '/demo.Greeter/Sum', requestStream: true, responseStream: false, ...json },
} satisfies grpc.ServiceDefinition;
const GreeterClient = grpc.makeGenericClientConstructor(greeter, 'Greeter');

type Unary = (call: grpc.ServerUnaryCall<{ name?: string; ms?: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

/** A real gRPC server on loopback; `cancelled` counts calls the client (here: the mesh) cancelled. */
async function startGreeter(): Promise<{ address: string; cancelled: () => number; close(): Promise<void> }> {
  const server = new grpc.Server();
  let cancelled = 0;
  const hello: Unary = (call, cb) => {
    const reply = new grpc.Metadata();
    reply.set('x-reply', `to-${String(call.metadata.get('x-tenant')[0])}`);
    call.sendMetadata(reply);
    const trailing = new grpc.Metadata();
    trailing.set('x-trailing', 'yes');
    cb(null, { greeting: `hello ${call.request.name ?? '?'}`, requestId: typeof call.metadata.get('x-request-id')[0] === 'string' }, trailing);
  };
  const fail: Unary = (_call, cb) => {
    const md = new grpc.Metadata();
    md.set('x-why', 'missing');
    cb({ code: grpc.status.NOT_FOUND, details: 'no such order: 42 – ünïcode', metadata: md });
  };
  const slow: Unary = (call, cb) => {
    const timer = setTimeout(() => cb(null, { late: true }), call.request.ms ?? 5_000);
    call.on('cancelled', () => {
      cancelled++;
      clearTimeout(timer);
    });
  };
  server.addService(greeter, {
    hello,
    fail,
    slow,
    // Bidirectional: each message is answered at once, before the client ends its side.
    chat: (call: grpc.ServerDuplexStream<{ n: number }, unknown>) => {
      call.on('data', (m: { n: number }) => call.write({ echo: m.n }));
      call.on('end', () => call.end());
    },
    sum: (call: grpc.ServerReadableStream<{ n: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      let total = 0;
      call.on('data', (m: { n: number }) => (total += m.n));
      call.on('end', () => cb(null, { total }));
    },
    count: (call: grpc.ServerWritableStream<{ n: number }, unknown>) => {
      for (let i = 0; i < call.request.n; i++) call.write({ i });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  return {
    address: `127.0.0.1:${port}`,
    cancelled: () => cancelled,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
}

function client(outbound: string, service: string): grpc.Client & Record<string, (...args: never[]) => unknown> {
  // The mesh routes by :authority, like it routes HTTP/1.1 by Host.
  return new GreeterClient(outbound, grpc.credentials.createInsecure(), { 'grpc.default_authority': service }) as never;
}

function unary(c: grpc.Client, method: string, request: unknown, metadata = new grpc.Metadata(), deadlineMs = 10_000): Promise<{ error: grpc.ServiceError | null; value: unknown; headers: grpc.Metadata | null; status: grpc.StatusObject | null }> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | null = null;
    let status: grpc.StatusObject | null = null;
    let result: { error: grpc.ServiceError | null; value: unknown } | null = null;
    const done = (): void => {
      if (result !== null && status !== null) resolve({ ...result, headers, status });
    };
    const call = (c as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)[method]!(request, metadata, { deadline: Date.now() + deadlineMs }, (error: grpc.ServiceError | null, value: unknown) => {
      result = { error, value };
      done();
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      done();
    });
  });
}

/** The pair: "web" (caller, outbound) → "greeter" (callee, inbound → app over h2c). */
async function pair(t: { after(fn: () => unknown): void }, app: string, extra: { collector?: string; timeoutMs?: number } = {}): Promise<{ caller: TestSidecar; callee: TestSidecar }> {
  const callee = await startSidecar({ service: 'greeter', app, appProtocol: 'h2c', ...(extra.collector === undefined ? {} : { collector: extra.collector }) }, fast);
  t.after(() => callee.close());
  const caller = await startSidecar(
    {
      service: 'web',
      app: null,
      ...(extra.collector === undefined ? {} : { collector: extra.collector }),
      destinations: { greeter: { endpoints: [{ address: callee.inbound }], ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }) } },
    },
    fast,
  );
  t.after(() => caller.close());
  return { caller, callee };
}

test('gRPC through the pair: unary with metadata both ways, server and client streaming, bidirectional ping-pong, a non-OK status with its message, spans with rpc.* attributes', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const app = await startGreeter();
  t.after(() => app.close());
  const { caller } = await pair(t, app.address, { collector: collector.url });
  const c = client(caller.outbound, 'greeter');
  t.after(() => c.close());

  const md = new grpc.Metadata();
  md.set('x-tenant', 'acme');
  const ok = await unary(c, 'hello', { name: 'ada' }, md);
  assert.equal(ok.error, null);
  assert.deepEqual(ok.value, { greeting: 'hello ada', requestId: true });
  assert.equal(ok.headers?.get('x-reply')[0], 'to-acme');
  assert.equal(ok.status?.code, grpc.status.OK);
  assert.equal(ok.status?.metadata.get('x-trailing')[0], 'yes', 'trailing metadata crosses the HTTP/1.1 hop as trailers');

  const items: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = (c as unknown as Record<string, (r: unknown) => grpc.ClientReadableStream<unknown>>).count!({ n: 500 });
    stream.on('data', (d: unknown) => items.push(d));
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
  assert.equal(items.length, 500);
  assert.deepEqual(items[499], { i: 499 });

  // Client streaming: 1000 messages, one answer at the end.
  const total = await new Promise<unknown>((resolve, reject) => {
    const up = (c as unknown as Record<string, (cb: (e: grpc.ServiceError | null, v: unknown) => void) => grpc.ClientWritableStream<unknown>>).sum!((e, v) => (e === null ? resolve(v) : reject(e)));
    for (let n = 1; n <= 1000; n++) up.write({ n });
    up.end();
  });
  assert.deepEqual(total, { total: 500_500 });

  // Ping-pong on a bidirectional stream: each reply arrives before the next message is sent (full duplex across the HTTP/1.1 hop).
  const chat = (c as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, { echo: number }>>).chat!();
  const replies: number[] = [];
  for (let n = 1; n <= 5; n++) {
    const reply = new Promise<{ echo: number }>((resolve, reject) => {
      chat.once('data', resolve);
      chat.once('error', reject);
      setTimeout(() => reject(new Error(`no reply to message ${n} within 5 s: the stream is not full duplex`)), 5_000).unref();
    });
    chat.write({ n });
    replies.push((await reply).echo);
  }
  chat.end();
  await new Promise<void>((resolve, reject) => {
    chat.on('status', (st: grpc.StatusObject) => (st.code === grpc.status.OK ? resolve() : reject(new Error(st.details))));
    chat.resume();
  });
  assert.deepEqual(replies, [1, 2, 3, 4, 5]);

  const failed = await unary(c, 'fail', {});
  assert.equal(failed.error?.code, grpc.status.NOT_FOUND);
  assert.equal(failed.error?.details, 'no such order: 42 – ünïcode');
  assert.equal(failed.error?.metadata.get('x-why')[0], 'missing');
  assert.equal(failed.error?.metadata.get('x-meshlet-error').length, 0, 'an app status is not a mesh error');

  const spans = await collector.waitFor((s) => s.attributes[ATTR.rpcMethod] === 'Fail' && s.attributes[ATTR.rpcGrpcStatusCode] === grpc.status.NOT_FOUND, 2);
  const clientSpan = spans.find((s) => s.kind === CLIENT && s.attributes[ATTR.retryAttempt] === undefined);
  const serverSpan = spans.find((s) => s.kind === SERVER);
  assert.ok(clientSpan !== undefined && serverSpan !== undefined);
  assert.equal(clientSpan.attributes[ATTR.rpcSystem], 'grpc');
  assert.equal(clientSpan.attributes[ATTR.rpcService], 'demo.Greeter');
  assert.equal(clientSpan.attributes[ATTR.networkProtocolName], 'http');
  assert.equal(clientSpan.attributes[ATTR.networkProtocolVersion], '2', 'the app spoke HTTP/2 to its sidecar');
  assert.equal(serverSpan.attributes[ATTR.networkProtocolVersion], '1.1', 'sidecars speak HTTP/1.1 to each other');
  assert.equal(clientSpan.attributes[ATTR.httpStatus], 200);
  assert.equal(clientSpan.traceId, serverSpan.traceId);
  const okSpans = await collector.waitFor((s) => s.attributes[ATTR.rpcMethod] === 'Hello', 2);
  for (const s of okSpans) assert.equal(s.attributes[ATTR.rpcGrpcStatusCode], grpc.status.OK);
});

test('gRPC failures made by the mesh reach the client as gRPC statuses with the meshlet reason; cancellations reach the app', async (t) => {
  const app = await startGreeter();
  t.after(() => app.close());
  const { caller, callee } = await pair(t, app.address, { timeoutMs: 300 });

  // The route timeout (300 ms) is the deadline: DEADLINE_EXCEEDED, and the app's call is cancelled.
  const c = client(caller.outbound, 'greeter');
  t.after(() => c.close());
  const slow = await unary(c, 'slow', { ms: 3_000 });
  assert.equal(slow.error?.code, grpc.status.DEADLINE_EXCEEDED);
  assert.match(slow.error?.details ?? '', /meshlet request_timeout/);
  assert.equal(slow.error?.metadata.get('x-meshlet-error')[0], 'request_timeout');
  const deadline = Date.now() + 3_000;
  while (app.cancelled() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(app.cancelled(), 1, 'the upstream call is cancelled when the proxy gives up');

  // The client's own deadline (shorter than the route's): its RST_STREAM cancels the call through both sidecars.
  const own = await unary(c, 'slow', { ms: 3_000 }, new grpc.Metadata(), 150);
  assert.equal(own.error?.code, grpc.status.DEADLINE_EXCEEDED);
  const deadline2 = Date.now() + 3_000;
  while (app.cancelled() === 1 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
  assert.equal(app.cancelled(), 2, "the client's cancellation reaches the app");

  // No endpoints for the destination: UNAVAILABLE from the caller's own sidecar.
  const lonely = await startSidecar({ service: 'web', app: null, destinations: { greeter: { endpoints: [] } } });
  t.after(() => lonely.close());
  const c2 = client(lonely.outbound, 'greeter');
  t.after(() => c2.close());
  const none = await unary(c2, 'hello', { name: 'x' });
  assert.equal(none.error?.code, grpc.status.UNAVAILABLE);
  assert.match(none.error?.details ?? '', /meshlet no_endpoints/);

  // The callee's policy denies the caller: PERMISSION_DENIED, made by the callee's sidecar.
  const guarded = await startSidecar({ service: 'vault', app: app.address, appProtocol: 'h2c', inbound: { deny: ['web'] } });
  t.after(() => guarded.close());
  const toVault = await startSidecar({ service: 'web', app: null, destinations: { vault: { endpoints: [{ address: guarded.inbound }] } } });
  t.after(() => toVault.close());
  const c4 = client(toVault.outbound, 'vault');
  t.after(() => c4.close());
  const denied = await unary(c4, 'hello', { name: 'z' });
  assert.equal(denied.error?.code, grpc.status.PERMISSION_DENIED);
  assert.match(denied.error?.details ?? '', /meshlet denied/);
  assert.equal(denied.error?.metadata.get('x-meshlet-error')[0], 'denied');

  // An unknown service: UNIMPLEMENTED, with the reason.
  const c3 = client(caller.outbound, 'nosuch');
  t.after(() => c3.close());
  const unknown = await unary(c3, 'hello', {});
  assert.equal(unknown.error?.code, grpc.status.UNIMPLEMENTED);
  assert.match(unknown.error?.details ?? '', /meshlet unknown_service/);

  // The app is down: the callee's sidecar cannot connect; the caller sees UNAVAILABLE with the reason (no retry: POST).
  await app.close();
  const down = await unary(c, 'hello', { name: 'y' });
  assert.equal(down.error?.code, grpc.status.UNAVAILABLE);
  assert.match(down.error?.details ?? '', /meshlet connect_refused/);
  assert.equal(down.error?.metadata.get('x-meshlet-error')[0], 'connect_refused');
  assert.ok(callee.sidecar.ready, 'the callee sidecar is still up');
});

test('gRPC through real `meshlet proxy` processes, the callee started with --app-protocol h2c', async (t) => {
  const app = await startGreeter();
  t.after(() => app.close());
  const callee = await spawnProxy(['--service', 'greeter', '--app', app.address, '--app-protocol', 'h2c', '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--collector', 'none', '--no-access-log']);
  t.after(() => callee.child.kill('SIGTERM'));
  const caller = await spawnProxy(['--service', 'web', '--app', 'none', '--endpoint', `greeter=${callee.inbound}`, '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--collector', 'none', '--no-access-log']);
  t.after(() => caller.child.kill('SIGTERM'));
  const config = await get(`http://${callee.admin}/config`);
  assert.equal(config.json().appProtocol, 'h2c');
  const c = client(caller.outbound, 'greeter');
  t.after(() => c.close());
  const ok = await unary(c, 'hello', { name: 'bob' });
  assert.equal(ok.error, null);
  assert.deepEqual(ok.value, { greeting: 'hello bob', requestId: true });
  const bad = await spawnProxy(['--service', 'x', '--app', 'none', '--app-protocol', 'h3', '--admin', '127.0.0.1:0']).catch((err: Error) => err);
  assert.ok(bad instanceof Error, 'a proxy with --app-protocol h3 must not start');
  assert.match(bad.message, /h3.*Allowed choices are http, h2c/s);
});

/** A node:http2 app (h2c). */
async function startH2App(handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<{ address: string; sessions: Set<http2.Http2Session>; sessionsSeen: () => number; close(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  let seen = 0;
  server.on('session', (s) => {
    seen++;
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    sessionsSeen: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface H2Result {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | null;
  body: Buffer;
}

function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    stream.on('response', (h) => (head = h));
    stream.on('trailers', (tr: http2.IncomingHttpHeaders) => (trailers = tr));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ headers: head, trailers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

test('h2c: a large body both ways with backpressure, trailers, and 200 concurrent streams on one session', async (t) => {
  const SIZE = 96 * 1024 * 1024;
  const big = randomBytes(1024 * 1024);
  let appWritten = 0;
  const app = await startH2App((stream, headers) => {
    if (headers[':path'] === '/upload') {
      const hash = createHash('sha256');
      let n = 0;
      stream.on('data', (c: Buffer) => {
        hash.update(c);
        n += c.length;
      });
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-bytes': String(n), 'x-sha256': hash.digest('hex') }));
        stream.end('received');
      });
      return;
    }
    if (headers[':path'] === '/download') {
      stream.respond({ ':status': 200 });
      let sent = 0;
      const pump = (): void => {
        while (sent < SIZE) {
          sent += big.length;
          appWritten = sent;
          if (!stream.write(big)) {
            stream.once('drain', pump);
            return;
          }
        }
        stream.end();
      };
      pump();
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-path': String(headers[':path']) });
    stream.end(`echo ${String(headers[':path'])} ${String(headers[':authority'])}`);
  });
  t.after(() => app.close());
  const { caller } = await pair(t, app.address);
  const session = http2.connect(`http://${caller.outbound}`);
  t.after(() => session.destroy());

  // Upload: streamed through both sidecars (chunked HTTP/1.1 between them), the app's trailers come back as HTTP/2 trailers.
  const upload = randomBytes(8 * 1024 * 1024);
  const up = await h2Request(session, { ':method': 'POST', ':path': '/upload', ':authority': 'greeter' }, upload);
  assert.equal(up.headers[':status'], 200);
  assert.equal(up.body.toString(), 'received');
  assert.equal(up.trailers?.['x-bytes'], String(upload.length));
  assert.equal(up.trailers?.['x-sha256'], createHash('sha256').update(upload).digest('hex'));

  // Download with a client that stops reading after its first MiB: the app is held back (flow control
  // end to end). What the app wrote beyond what the client took is what the buffers on the way hold
  // (h2 windows, sockets, the HTTP/1.1 hop between the sidecars), far less than the 96 MiB body. The
  // bound is on that difference, not on a time: a fast machine moves many MiB before a timer fires.
  const dl = session.request({ ':method': 'GET', ':path': '/download', ':authority': 'greeter' }, { endStream: true });
  let received = 0;
  const hash = createHash('sha256');
  let pausedOnce = false;
  const paused = new Promise<void>((resolve) => {
    dl.on('data', (c: Buffer) => {
      received += c.length;
      hash.update(c);
      if (received >= 1024 * 1024 && !pausedOnce) {
        pausedOnce = true;
        dl.pause();
        resolve();
      }
    });
  });
  await paused;
  await new Promise((r) => setTimeout(r, 1_000));
  const inFlight = appWritten - received;
  assert.ok(inFlight < 24 * 1024 * 1024, `the app wrote ${appWritten} bytes while a paused client had taken ${received}: backpressure does not reach it`);
  dl.resume();
  await new Promise<void>((resolve, reject) => {
    dl.on('end', () => resolve());
    dl.on('error', reject);
  });
  assert.equal(received, SIZE);

  // Many concurrent streams on one session.
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/item/${i}`, ':authority': 'greeter' })));
  for (const [i, r] of results.entries()) {
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body.toString(), `echo /item/${i} greeter`);
  }
  assert.equal(app.sessionsSeen(), 1, 'the callee sidecar multiplexes every request on one session to the app');

  // HTTP/1.1 still works on the same outbound port.
  const h1 = await get(`http://${caller.outbound}/item/h1`, { host: 'greeter' });
  assert.equal(h1.status, 200);
  assert.equal(h1.text, 'echo /item/h1 greeter');
});

test('h2c limits and errors: header overflow → 431, unknown service → 404 with x-meshlet-error, HTTP/1.1 app reached from an h2 client', async (t) => {
  const { startServer } = await import('./helpers.ts');
  const h1app = await startServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
    res.end(`h1 app got ${req.url} cookie=${req.headers.cookie ?? ''} host=${req.headers.host ?? ''}`);
  });
  t.after(() => h1app.close());
  const sidecar = await startSidecar({ service: 'plain', app: h1app.address, limits: { maxHeaderCount: 20 } });
  t.after(() => sidecar.close());
  const session = http2.connect(`http://${sidecar.inbound}`);
  t.after(() => session.destroy());
  // The inbound listener takes h2c too, and the app speaks HTTP/1.1: the sidecar translates.
  const r = await h2Request(session, { ':method': 'GET', ':path': '/x?y=1', ':authority': 'plain', cookie: ['c1=1', 'c2=2'] });
  assert.equal(r.headers[':status'], 200);
  assert.equal(r.body.toString(), 'h1 app got /x?y=1 cookie=c1=1; c2=2 host=plain');
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);

  const many: http2.OutgoingHttpHeaders = { ':method': 'GET', ':path': '/', ':authority': 'plain' };
  for (let i = 0; i < 30; i++) many[`x-h${i}`] = 'v';
  const over = await h2Request(session, many);
  assert.equal(over.headers[':status'], 431);
  assert.equal(over.headers['x-meshlet-error'], 'header_overflow');
  assert.equal((JSON.parse(over.body.toString()) as { reason: string }).reason, 'header_overflow');

  // Over the cap nghttp2 itself refuses the stream (or the session); the sidecar goes on.
  const other = http2.connect(`http://${sidecar.inbound}`);
  other.on('error', () => {});
  t.after(() => other.destroy());
  const huge = await h2Request(other, { ':method': 'GET', ':path': '/', ':authority': 'plain', 'x-big': 'a'.repeat(80_000) }).catch((err: Error) => err);
  assert.ok(huge instanceof Error && /ENHANCE_YOUR_CALM|REFUSED_STREAM/.test(huge.message), String(huge instanceof Error ? huge.message : 'answered'));

  const connect = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'CONNECT', ':authority': 'plain:80' });
    stream.on('response', (h) => {
      resolve(Number(h[':status']));
      stream.close();
    });
    stream.on('error', reject);
  });
  assert.equal(connect, 405, 'CONNECT is refused');
  const still = await h2Request(session, { ':method': 'GET', ':path': '/still', ':authority': 'plain' });
  assert.equal(still.headers[':status'], 200);

  const outbound = http2.connect(`http://${sidecar.outbound}`);
  t.after(() => outbound.destroy());
  const unknown = await h2Request(outbound, { ':method': 'GET', ':path': '/', ':authority': 'ghost' });
  assert.equal(unknown.headers[':status'], 404);
  assert.equal(unknown.headers['x-meshlet-error'], 'unknown_service');
  // The same failure on a gRPC request: 200 and trailers-only, as gRPC clients (grpc-go too) expect.
  const grpcUnknown = await h2Request(outbound, { ':method': 'POST', ':path': '/demo.Greeter/Hello', ':authority': 'ghost', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.from([0, 0, 0, 0, 0]));
  assert.equal(grpcUnknown.headers[':status'], 200);
  assert.equal(grpcUnknown.headers['grpc-status'], '12');
  assert.match(String(grpcUnknown.headers['grpc-message']), /^meshlet unknown_service: /);
  assert.equal(grpcUnknown.headers['x-meshlet-error'], 'unknown_service');
  assert.equal(grpcUnknown.trailers, null, 'trailers-only: the status is in the one HEADERS frame');
  assert.equal(grpcUnknown.body.length, 0);
});

test('malformed HTTP/2 is rejected cleanly and the sidecar keeps serving', async (t) => {
  const { echoApp } = await import('./helpers.ts');
  const app = await echoApp();
  t.after(() => app.close());
  const sidecar = await startSidecar({ service: 'echo', app: app.address });
  t.after(() => sidecar.close());
  const [host, port] = [sidecar.inbound.split(':')[0] as string, Number(sidecar.inbound.split(':')[1])];
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  };
  const settings = frame(4, 0, 0, Buffer.alloc(0));
  const vectors: [string, Buffer][] = [
    ['garbage after the preface', Buffer.concat([preface, Buffer.from('this is not a frame at all, not even close.....')])],
    ['HEADERS with an invalid HPACK block', Buffer.concat([preface, settings, frame(1, 0x4 | 0x1, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))])],
    ['DATA on stream 0', Buffer.concat([preface, settings, frame(0, 0, 0, Buffer.from('x'))])],
    ['a frame over the max frame size', Buffer.concat([preface, settings, frame(0, 0, 1, Buffer.alloc(20_000))])],
    ['half a preface, then close', preface.subarray(0, 10)],
  ];
  for (const [name, bytes] of vectors) {
    const got = await new Promise<Buffer>((resolve) => {
      const socket = net.connect(port, host, () => socket.end(bytes));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('error', () => {});
      socket.setTimeout(5_000, () => socket.destroy());
    });
    if (name !== 'half a preface, then close') {
      // The server's SETTINGS, then a GOAWAY frame (type 7) with an error code.
      let off = 0;
      let goaway = false;
      while (off + 9 <= got.length) {
        const len = got.readUIntBE(off, 3);
        if (got[off + 3] === 7) goaway = true;
        off += 9 + len;
      }
      assert.ok(goaway, `${name}: expected a GOAWAY, got ${got.toString('hex').slice(0, 200)}`);
    }
    const ok = await get(`http://${sidecar.inbound}/after`, { host: 'echo' });
    assert.equal(ok.status, 200, `${name}: the sidecar still serves`);
  }
});

test('drain: h2c sessions get GOAWAY, the stream in flight finishes', async (t) => {
  const app = await startH2App((stream) => {
    setTimeout(() => {
      stream.respond({ ':status': 200 });
      stream.end('late but whole');
    }, 400);
  });
  t.after(() => app.close());
  const sidecar = await startSidecar({ service: 'slow', app: app.address, appProtocol: 'h2c' });
  t.after(() => sidecar.close());
  const session = http2.connect(`http://${sidecar.inbound}`);
  t.after(() => session.destroy());
  const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
  const inflight = h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'slow' });
  await new Promise((r) => setTimeout(r, 100));
  const drained = sidecar.sidecar.drain();
  await goaway;
  const res = await inflight;
  assert.equal(res.headers[':status'], 200);
  assert.equal(res.body.toString(), 'late but whole');
  await drained;
});

test('h2c app: a new session after the app sends GOAWAY; request trailers are reported, not silently lost', async (t) => {
  const collector = await startCollector();
  t.after(() => collector.close());
  const app = await startH2App((stream, headers) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(`ok ${String(headers[':path'])}`);
    });
  });
  t.after(() => app.close());
  const { caller } = await pair(t, app.address, { collector: collector.url });
  const session = http2.connect(`http://${caller.outbound}`);
  t.after(() => session.destroy());
  const first = await h2Request(session, { ':method': 'GET', ':path': '/one', ':authority': 'greeter' });
  assert.equal(first.body.toString(), 'ok /one');
  // The app goes away gracefully (GOAWAY, as a restarting gRPC server does): the next request opens a new session.
  for (const s of app.sessions) s.close();
  await new Promise((r) => setTimeout(r, 100));
  const second = await h2Request(session, { ':method': 'GET', ':path': '/two', ':authority': 'greeter' });
  assert.equal(second.headers[':status'], 200);
  assert.equal(second.body.toString(), 'ok /two');
  assert.equal(app.sessionsSeen(), 2);

  // A client that sends request trailers: the request goes through; the trailers are named on the span.
  const withTrailers = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/trailers', ':authority': 'greeter', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.resume();
    stream.end('body');
  });
  assert.equal(withTrailers, 200);
  const [span] = await collector.waitFor((s) => s.traceId === '0af7651916cd43dd8448eb211c80319c' && s.kind === CLIENT && s.attributes[ATTR.retryAttempt] === undefined);
  assert.equal(span?.attributes[ATTR.requestTrailersDropped], 'x-checksum');
});
