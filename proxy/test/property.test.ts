// fast-check properties: the sidecar forwards exactly the body it read (never more, never less) for
// any body and framing, rejects or forwards cleanly any mangled request head, and never crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { Client } from 'undici';
import { extractParent, parseTracestate } from '../src/context.ts';
import { startServer, startSidecar } from './helpers.ts';

const digest = (b: Uint8Array): string => `${b.length}:${createHash('sha1').update(b).digest('hex')}`;

async function bodyApp() {
  return startServer((req, res) => {
    const hash = createHash('sha1');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => res.end(`${n}:${hash.digest('hex')}`));
  });
}

test('any body, any framing: the app receives exactly the bytes the client sent (10,000 runs)', async (t) => {
  const app = await bodyApp();
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'prop', app: app.address, telemetry: { spans: false, metrics: true, accessLog: false } });
  t.after(() => sc.close());
  const client = new Client(`http://${sc.inbound}`, { pipelining: 1 });
  t.after(() => client.close());
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 4096 }),
      fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
      async (body, method, chunked, splits) => {
        const bytes = Buffer.from(body);
        let payload: Buffer | Readable = bytes;
        if (chunked) {
          // A stream of unknown length goes out chunked, one chunk per piece.
          const pieces: Buffer[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = splits[i % splits.length] as number;
            pieces.push(bytes.subarray(at, at + size));
            at += size;
          }
          payload = Readable.from(pieces, { objectMode: false });
        }
        const res = await client.request({ path: '/p', method, headers: { host: 'prop' }, body: payload });
        const text = await res.body.text();
        assert.equal(res.statusCode, 200);
        assert.equal(text, digest(bytes));
      },
    ),
    { numRuns: 10_000 },
  );
});

const TOKEN = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
/** Header lines that are valid, odd or hostile: the parser must reject or the request must stay intact. */
const HEADER_LINE = fc.oneof(
  fc.tuple(TOKEN, fc.stringMatching(/^[ -~]{0,20}$/)).map(([k, v]) => `${k}: ${v}`),
  fc.constantFrom(
    'Content-Length: 5',
    'Content-Length: 0',
    'Content-Length: -1',
    'Content-Length: 1, 2',
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: chunked, identity',
    'Transfer-Encoding: xchunked',
    'Transfer-Encoding : chunked',
    ' folded: line',
    '\tfolded: tab',
    'Host: other',
    'X: a\rb',
    'X: a\nb',
    'Connection: x-drop',
    'x-drop: secret',
    'Expect: 100-continue',
    'Upgrade: h2c',
    'Te: trailers',
    'Bad Header: x',
    ':',
    'X-\x00: y',
  ),
);

function exchange(address: string, payload: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), host);
    let out = '';
    sock.setTimeout(400, () => sock.destroy());
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => resolve(out));
    sock.write(payload);
  });
}

test('mangled request heads are rejected (400/431) or forwarded with the body intact; the proxy stays up (1,000 runs)', async (t) => {
  const received: string[] = [];
  const app = await startServer((req, res) => {
    const hash = createHash('sha1');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      received.push(JSON.stringify(req.headers));
      res.end(`${n}:${hash.digest('hex')}`);
    });
  });
  t.after(() => app.close());
  const sc = await startSidecar({ service: 'prop', app: app.address, telemetry: { spans: false, metrics: true, accessLog: false } });
  t.after(() => sc.close());
  await fc.assert(
    fc.asyncProperty(fc.array(HEADER_LINE, { maxLength: 6 }), fc.stringMatching(/^[a-z]{0,12}$/), async (lines, body) => {
      const head = ['POST /x HTTP/1.1', 'Host: prop', ...lines, 'Connection: close'].join('\r\n');
      const out = (await exchange(sc.inbound, `${head}\r\n\r\n${body}`)).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      // A declared body longer than what was sent leaves the request waiting for it: no answer is right.
      const waitsForBody = out === '' && lines.some((l) => /^(content-length: [1-9]|transfer-encoding: chunked|expect)/i.test(l));
      assert.ok([200, 400, 417, 431].includes(status) || waitsForBody, `unexpected answer ${JSON.stringify(out.slice(0, 80))} to ${JSON.stringify(lines)}`);
      if (status === 200) {
        const got = out.slice(out.indexOf('\r\n\r\n') + 4);
        // What node's strict parser read as the body must be what reached the app, byte for byte.
        const m = /^(\d+):/.exec(got);
        assert.ok(m !== null && Number(m[1]) <= body.length, `forwarded ${got} for a ${body.length}-byte body`);
      }
      const last = received.at(-1);
      if (status === 200 && lines.includes('Connection: x-drop') && last !== undefined) assert.ok(!last.includes('"x-drop"'), 'headers named in Connection are hop-by-hop');
    }),
    { numRuns: 1_000 },
  );
  const ok = await exchange(sc.inbound, 'GET / HTTP/1.1\r\nHost: prop\r\nConnection: close\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200/, 'still serving');
});

test('context parsing never throws and keeps tracestate within the W3C bounds (10,000 runs)', () => {
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[ -~]{0,60}$/), { maxLength: 40 }), fc.string(), fc.string(), (entries, tp, b3) => {
      const out = parseTracestate(entries.join(','));
      if (out !== null) {
        assert.ok(out.length <= 512);
        const given = new Set(entries.join(',').split(',').map((e) => e.trim()));
        for (const e of out.split(',')) assert.ok(given.has(e), 'only whole input entries');
      }
      const parent = extractParent({ traceparent: tp, b3 });
      if (parent !== null) assert.match(parent.traceId + parent.spanId, /^[0-9a-f]{48}$/);
    }),
    { numRuns: 10_000 },
  );
});
