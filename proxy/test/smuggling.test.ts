// Request smuggling and malformed-request vectors, replayed through the sidecar and, for comparison,
// through haproxy on loopback in front of the same kind of upstream. The invariant that matters: every
// request the upstream sees is one the client got its own response for (no desync, nothing smuggled),
// and every body arrives as the proxy framed it. The comparison table is printed with the test output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, startSidecar } from './helpers.ts';

interface Vector {
  name: string;
  /** Raw bytes; `{P}` is replaced by a per-vector path prefix so upstream hits can be attributed. */
  raw: string;
}

const V: Vector[] = [
  { name: 'CL.TE (both framings)', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET {P}/smuggled HTTP/1.1\r\nHost: s\r\n\r\n' },
  { name: 'TE.CL (both framings, reversed)', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n' },
  { name: 'duplicate Content-Length, different', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' },
  { name: 'duplicate Content-Length, same', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' },
  { name: 'Content-Length list "5, 6"', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5, 6\r\n\r\nhello!' },
  { name: 'Content-Length "+5"', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: +5\r\n\r\nhello' },
  { name: 'Content-Length "5a"', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5a\r\n\r\nhello' },
  { name: 'obs-fold in a header', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\r\nX-A: one\r\n two\r\nConnection: close\r\n\r\n' },
  { name: 'obs-fold in Transfer-Encoding', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n' },
  { name: 'bare LF line endings', raw: 'GET {P}/a HTTP/1.1\nHost: s\nConnection: close\n\n' },
  { name: 'bare LF after a header (CVE-2022-35256)', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\nX: y\r\nConnection: close\r\n\r\n' },
  { name: 'bare CR in a header (CVE-2023-30589)', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\rX-B: y\r\nConnection: close\r\n\r\n' },
  { name: 'space before colon', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n' },
  { name: 'leading space before Content-Length (CVE-2024-27982)', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\n Content-Length: 44\r\n\r\nGET {P}/smuggled HTTP/1.1\r\nHost: s\r\n\r\n' },
  { name: 'Transfer-Encoding: xchunked', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding: chunked, identity', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding: identity, chunked', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: identity, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n' },
  { name: 'two Transfer-Encoding headers (CVE-2022-32215)', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n' },
  { name: 'invalid chunk size', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' },
  { name: 'chunk size overflow', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF5\r\nhello\r\n0\r\n\r\n' },
  { name: 'valid chunk extension', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n' },
  { name: 'chunk extension with bare LF (CVE-2022-32213)', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\nhello\r\n0\r\n\r\n' },
  { name: 'chunk extension with a control byte', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n' },
  { name: 'chunk data not followed by CRLF', raw: 'POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhelloGET {P}/smuggled HTTP/1.1\r\n\r\n0\r\n\r\n' },
  { name: 'huge chunk extension (CVE-2024-22019)', raw: `POST {P}/a HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n` },
  { name: 'NUL in a header value', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\r\nX: a\x00b\r\n\r\n' },
  { name: 'no Host on HTTP/1.1', raw: 'GET {P}/a HTTP/1.1\r\nConnection: close\r\n\r\n' },
  { name: 'two Host headers', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\r\nHost: t\r\nConnection: close\r\n\r\n' },
  { name: 'more header lines than the limit', raw: `GET {P}/a HTTP/1.1\r\nHost: s\r\n${Array.from({ length: 150 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n` },
  { name: 'header bytes over the limit', raw: `GET {P}/a HTTP/1.1\r\nHost: s\r\nX: ${'a'.repeat(20_000)}\r\n\r\n` },
  { name: 'two pipelined requests', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\r\n\r\nGET {P}/b HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n' },
  { name: 'HTTP/1.0 with chunked', raw: 'POST {P}/a HTTP/1.0\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' },
  { name: 'GET with a body', raw: 'GET {P}/a HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' },
  { name: 'invalid method characters', raw: 'G(T {P}/a HTTP/1.1\r\nHost: s\r\n\r\n' },
  { name: 'space in the request target', raw: 'GET {P}/a b HTTP/1.1\r\nHost: s\r\n\r\n' },
];

interface Seen {
  url: string;
  bodyBytes: number;
}

async function recorder() {
  const seen: Seen[] = [];
  const server = await startServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', bodyBytes: n });
      res.end(`ok ${n}`);
    });
    req.on('error', () => {});
  });
  return { ...server, seen };
}

function exchange(address: string, raw: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), host);
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(out));
    sock.write(raw, 'latin1');
    setTimeout(() => sock.destroy(), 800).unref();
  });
}

interface Outcome {
  statuses: number[];
  upstream: Seen[];
}

function summary(o: Outcome): string {
  const s = o.statuses.length === 0 ? 'no answer' : o.statuses.join('+');
  return o.upstream.length === 0 ? s : `${s}, upstream saw ${o.upstream.map((u) => `${u.url.split('/').pop()}(${u.bodyBytes}B)`).join(' ')}`;
}

async function replay(address: string, seen: Seen[]): Promise<Outcome[]> {
  return Promise.all(
    V.map(async (v, i) => {
      const prefix = `/v${i}`;
      const out = await exchange(address, v.raw.replaceAll('{P}', prefix));
      const statuses = [...out.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])).filter((s) => s !== 100);
      return { statuses, upstream: seen.filter((s) => s.url.startsWith(`${prefix}/`)) };
    }),
  );
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

test('smuggling and malformed-request vectors: no desync through the sidecar (compared with haproxy)', async (t) => {
  const mesh = await recorder();
  t.after(() => mesh.close());
  const sc = await startSidecar({ service: 's', app: mesh.address, limits: { maxHeaderCount: 100 } });
  t.after(() => sc.close());
  const meshOut = await replay(sc.inbound, mesh.seen);

  let haproxyOut: Outcome[] | null = null;
  const ref = await recorder();
  t.after(() => ref.close());
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-haproxy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(
    cfg,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 2s',
      '  timeout server 2s',
      '  option http-keep-alive',
      'frontend f',
      `  bind 127.0.0.1:${port}`,
      '  default_backend b',
      'backend b',
      `  server s1 ${ref.address}`,
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
  t.after(() => haproxy.kill('SIGKILL'));
  const up = Date.now() + 3_000;
  let ready = false;
  while (!ready && Date.now() < up) {
    ready = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  if (ready) haproxyOut = await replay(`127.0.0.1:${port}`, ref.seen);

  const rows = V.map((v, i) => `${v.name.padEnd(52)} meshlet: ${summary(meshOut[i] as Outcome).padEnd(40)} haproxy: ${haproxyOut === null ? 'n/a' : summary(haproxyOut[i] as Outcome)}`);
  t.diagnostic(`\n${rows.join('\n')}`);

  for (const [i, v] of V.entries()) {
    const o = meshOut[i] as Outcome;
    // Nothing reaches the upstream that the client did not get its own answer for.
    const answered = o.statuses.filter((s) => s < 400).length;
    assert.ok(o.upstream.length <= answered, `${v.name}: upstream saw ${o.upstream.length} requests, client got ${answered} answers`);
    assert.ok(!o.upstream.some((u) => u.url.includes('smuggled')), `${v.name}: a smuggled request reached the upstream`);
    // A vector haproxy refuses is refused here too.
    const ref_ = haproxyOut?.[i];
    if (ref_ !== undefined && ref_.upstream.length === 0 && ref_.statuses.some((s) => s >= 400)) {
      assert.equal(o.upstream.length, 0, `${v.name}: haproxy rejects it (${summary(ref_)}), meshlet forwarded it (${summary(o)})`);
    }
  }
  const byName = (name: string) => meshOut[V.findIndex((v) => v.name === name)] as Outcome;
  assert.deepEqual(byName('more header lines than the limit').statuses, [431]);
  assert.deepEqual(byName('header bytes over the limit').statuses, [431]);
  assert.deepEqual(byName('two pipelined requests').statuses, [200, 200]);
  assert.equal(byName('valid chunk extension').upstream[0]?.bodyBytes, 5);
});
