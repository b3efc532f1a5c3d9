// Shared helpers of the proxy integration tests: real servers on port 0 on loopback.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import type { SidecarConfigInput } from '@meshlet/wire';
import { parseConfig } from '../src/config.ts';
import { createSidecar, type Sidecar, type SidecarOptions } from '../src/sidecar.ts';
import { decodeTraces, type DecodedSpan } from './otlp-decode.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface Server {
  address: string;
  server: http.Server;
  close(): Promise<void>;
}

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An app that answers JSON describing what it received. */
export function echoApp(): Promise<Server> {
  return startServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
}

export const silentLogger = pino({ level: 'silent' });

export interface TestSidecar {
  sidecar: Sidecar;
  inbound: string;
  outbound: string;
  admin: string;
  close(): Promise<void>;
}

export async function startSidecar(input: SidecarConfigInput, options: Partial<SidecarOptions> = {}): Promise<TestSidecar> {
  const cfg = parseConfig(
    {
      listen: { inbound: '127.0.0.1:0', outbound: '127.0.0.1:0', admin: '127.0.0.1:0' },
      telemetry: { spans: true, metrics: true, accessLog: false },
      ...input,
    },
    'test',
  );
  const sidecar = createSidecar({ logger: silentLogger, accessLogDestination: '/dev/null', ...options });
  await sidecar.listenAdmin(cfg.listen.admin);
  await sidecar.apply(cfg);
  const a = sidecar.addresses();
  return { sidecar, inbound: a.inbound, outbound: a.outbound, admin: a.admin, close: () => sidecar.close() };
}

/** A fake OTLP/HTTP collector that decodes every protobuf trace export. */
export interface FakeCollector extends Server {
  url: string;
  spans: DecodedSpan[];
  requests: number;
  /** Resolves when `n` spans matching `filter` have arrived (or rejects after `timeoutMs`). */
  waitFor(filter: (s: DecodedSpan) => boolean, n?: number, timeoutMs?: number): Promise<DecodedSpan[]>;
}

export async function startCollector(behaviour: 'ok' | 'fail' | 'hang' = 'ok'): Promise<FakeCollector> {
  const spans: DecodedSpan[] = [];
  const state = { requests: 0 };
  const server = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      if (behaviour === 'hang') return;
      if (behaviour === 'fail') {
        res.writeHead(500).end();
        return;
      }
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') spans.push(...decodeTraces(Buffer.concat(chunks)));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  return {
    ...server,
    url: `http://${server.address}`,
    spans,
    get requests() {
      return state.requests;
    },
    async waitFor(filter, n = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = spans.filter(filter);
        if (found.length >= n) return found;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} spans; have ${spans.length}: ${spans.map((s) => `${s.name}/${s.kind}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

export async function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Buffer) {
  const res = await request(url, { method: method as 'GET', headers, body: body ?? null });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Starts `meshlet proxy` as a process; resolves once it logged its listening addresses. */
export async function spawnProxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; inbound: string; outbound: string; admin: string; stderr: () => string; stdout: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'meshlet.js'), 'proxy', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = await new Promise<Record<string, string>>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          resolve(JSON.parse(line) as Record<string, string>);
        } catch {
          /* partial line */
        }
      }
    });
    void exited.then((code) => reject(new Error(`meshlet proxy exited with ${code}: ${stderr}`)));
  });
  return { child, inbound: listening.inbound as string, outbound: listening.outbound as string, admin: listening.admin as string, stderr: () => stderr, stdout: () => stdout, exited };
}
