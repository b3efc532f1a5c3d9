// Forwards what the collector stored to another OTLP/HTTP endpoint (an OpenTelemetry Collector, Tempo,
// Jaeger...; DESIGN "Where one collector is not enough"). Forwarding never slows ingest: requests wait in
// a bounded queue, are retried with backoff on 429/5xx/network errors, and are dropped (and counted) when
// the queue is full or retries run out.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { CollectorMetrics } from '../metrics.ts';
import type { Signal } from './otlp-receiver.ts';

const gzipAsync = promisify(gzip);

export interface ForwarderOptions {
  /** Base URL, e.g. `http://otel-collector:4318`; `/v1/traces` and `/v1/logs` are appended. */
  url: string;
  metrics: CollectorMetrics;
  log: Logger;
  maxQueueBytes?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  /** First backoff; doubles per attempt. */
  backoffMs?: number;
}

export interface Forwarder {
  enqueue(signal: Signal, contentType: string, body: Buffer): void;
  readonly queuedBytes: number;
  /** Waits for the queue to empty (up to `timeoutMs`), then stops. */
  close(timeoutMs?: number): Promise<void>;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

export function createForwarder(options: ForwarderOptions): Forwarder {
  const maxQueueBytes = options.maxQueueBytes ?? 64 * 1024 * 1024; // 64 MiB
  const maxAttempts = options.maxAttempts ?? 5;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const backoffMs = options.backoffMs ?? 500;
  const base = options.url.replace(/\/+$/, '');
  const queue: { signal: Signal; contentType: string; body: Buffer }[] = [];
  let queuedBytes = 0;
  let running = false;
  let closed = false;
  let idle: (() => void) | null = null;

  async function sendOne(item: { signal: Signal; contentType: string; body: Buffer }): Promise<void> {
    const compressed = await gzipAsync(item.body);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        const res = await fetch(`${base}/v1/${item.signal}`, {
          method: 'POST',
          headers: { 'content-type': item.contentType, 'content-encoding': 'gzip' },
          body: compressed,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        if (res.ok) {
          options.metrics.forwarded.inc({ signal: item.signal, outcome: 'ok' });
          return;
        }
        if (!RETRYABLE.has(res.status)) {
          options.log.warn({ status: res.status, url: base, signal: item.signal }, 'forwarding refused by the next collector; dropped');
          options.metrics.forwarded.inc({ signal: item.signal, outcome: 'failed' });
          return;
        }
      } catch (err) {
        if (attempt === maxAttempts) options.log.warn({ err: (err as Error).message, url: base }, 'forwarding failed; dropped');
      }
      if (closed && attempt >= 2) break;
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
    options.metrics.forwarded.inc({ signal: item.signal, outcome: 'failed' });
  }

  async function run(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const item = queue.shift() as (typeof queue)[number];
      try {
        await sendOne(item);
      } finally {
        queuedBytes -= item.body.length;
      }
    }
    running = false;
    idle?.();
  }

  return {
    enqueue(signal, contentType, body): void {
      if (closed) return;
      if (queuedBytes + body.length > maxQueueBytes) {
        options.metrics.forwarded.inc({ signal, outcome: 'dropped' });
        return;
      }
      queue.push({ signal, contentType, body });
      queuedBytes += body.length;
      if (!running) void run();
    },
    get queuedBytes() {
      return queuedBytes;
    },
    async close(waitMs = 5_000): Promise<void> {
      closed = true;
      if (!running) return;
      await Promise.race([new Promise<void>((r) => (idle = r)), new Promise((r) => setTimeout(r, waitMs).unref())]);
    },
  };
}
