// Test helpers: real HTTP servers on 127.0.0.1:0, a real OTLP/HTTP receiver that decodes the protobuf
// the OpenTelemetry exporter sends, and `meshlet bench` run as a process. Everything is torn down in t.after.
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import protobuf from 'protobufjs';
import type { K6Summary } from '../src/summary.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const MESHLET = join(ROOT, 'bin', 'meshlet.js');

export interface Received {
  atMs: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An HTTP server on 127.0.0.1:0 that records every request it gets. */
export async function startServer(t: TestContext, handler: Handler = (_req, res) => res.end('ok')): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ atMs: performance.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/** A port nothing listens on (a server bound and closed again). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** The summary JSON from stdout (stdout is a pipe, so the harness prints it there). */
  summary: K6Summary | undefined;
}

export interface RunBenchOptions {
  env?: Record<string, string>;
  /** Sends SIGINT `interruptDelayMs` after stderr first satisfies this. */
  interruptWhen?: (stderr: string) => boolean;
  interruptDelayMs?: number;
}

/** Runs `meshlet bench ...` as a child process. */
export async function runBench(t: TestContext, args: string[], options: RunBenchOptions = {}): Promise<BenchRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [MESHLET, 'bench', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (timer === undefined && options.interruptWhen?.(stderr) === true) timer = setTimeout(() => child.kill('SIGINT'), options.interruptDelayMs ?? 0);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  let summary: K6Summary | undefined;
  try {
    summary = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as K6Summary);
  } catch {
    summary = undefined;
  }
  return { code, stdout, stderr, elapsedMs: performance.now() - started, summary };
}

// The part of opentelemetry-proto (collector/logs/v1, logs/v1, common/v1, resource/v1) this test reads.
const LOGS_PROTO = `
syntax = "proto3";
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  string event_name = 12;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;
const ExportLogsServiceRequest = protobuf.parse(LOGS_PROTO, { keepCase: false }).root.lookupType('ExportLogsServiceRequest');

export interface DecodedLog {
  contentType: string;
  resource: Record<string, unknown>;
  timeUnixNano: string;
  eventName: string;
  severityNumber: number;
  body: unknown;
  attributes: Record<string, unknown>;
}

interface AnyValueObject {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
}
type KeyValueObject = { key: string; value?: AnyValueObject };

function anyValue(v: AnyValueObject | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.doubleValue;
}

function attributes(list: KeyValueObject[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

/** An OTLP/HTTP logs receiver (protobuf) on 127.0.0.1:0 that answers 200 with an empty response. */
export async function startOtlpReceiver(t: TestContext): Promise<{ url: string; logs: DecodedLog[] }> {
  const logs: DecodedLog[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/logs' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const message = ExportLogsServiceRequest.decode(Buffer.concat(chunks));
      const request = ExportLogsServiceRequest.toObject(message, { longs: String, defaults: false }) as {
        resourceLogs?: { resource?: { attributes?: KeyValueObject[] }; scopeLogs?: { logRecords?: { timeUnixNano: string; eventName: string; severityNumber: number; body?: AnyValueObject; attributes?: KeyValueObject[] }[] }[] }[];
      };
      for (const rl of request.resourceLogs ?? []) {
        for (const sl of rl.scopeLogs ?? []) {
          for (const r of sl.logRecords ?? []) {
            logs.push({
              contentType: req.headers['content-type'] ?? '',
              resource: attributes(rl.resource?.attributes),
              timeUnixNano: r.timeUnixNano,
              eventName: r.eventName,
              severityNumber: r.severityNumber,
              body: anyValue(r.body),
              attributes: attributes(r.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logs };
}

/**
 * Starts `meshlet <verb> ...` (collector, proxy) and resolves with its `listening` log line, which
 * carries the addresses it bound (ports 0 in tests). The process is stopped (SIGTERM, then SIGKILL) in t.after.
 */
export async function startMeshlet(t: TestContext, args: string[], timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [MESHLET, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`meshlet ${args[0]} exited with ${code}:\n${stderr}`));
    };
    const onData = (d: Buffer): void => {
      stderr += d.toString();
      const line = stderr.split('\n').find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stderr.off('data', onData);
      child.stderr.resume(); // keep draining its logs so it never blocks on a full pipe
      resolve(entry);
    };
    const timer = setTimeout(() => reject(new Error(`meshlet ${args[0]} did not log "listening" within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.on('exit', onExit);
    child.stderr.on('data', onData);
  });
}

/** Polls `fn` every 250 ms until it returns a value, for at most `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`);
}
