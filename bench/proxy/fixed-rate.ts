// An open-loop fixed-rate HTTP load client (wrk2 is not in Debian): requests are scheduled at a
// constant rate over keep-alive connections and each latency is measured from the time the request
// was *due* when it had to wait for a free connection (so a stalled server is not hidden: coordinated
// omission), else from when it was written (so the timer granularity of the client is not counted). Written on
// raw sockets with a minimal response parser (Content-Length framing only) so the client itself costs
// little CPU on a machine it shares with the proxies it measures.
import net from 'node:net';

export interface FixedRateResult {
  rate: number;
  sent: number;
  /** Non-200 answers. */
  errors: number;
  /** Requests still unanswered 30 s after the schedule ended (the proxy could not keep up). */
  unfinished: number;
  /** Latencies in microseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] as number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private readonly socket: net.Socket;
  private readonly request: Buffer;
  busy = false;
  private due = 0;
  private onDone: (due: number, ok: boolean) => void;
  constructor(host: string, port: number, request: Buffer, onDone: (due: number, ok: boolean) => void) {
    this.request = request;
    this.onDone = onDone;
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (c: Buffer) => this.data(c));
    this.socket.on('error', () => {});
  }
  /** `since`: the due time for a request that waited, else now. */
  send(since: number): void {
    this.busy = true;
    this.due = since;
    this.socket.write(this.request);
  }
  private data(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(HEADER_END);
    if (end === -1) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const length = m === null ? 0 : Number(m[1]);
    if (this.buf.length < end + 4 + length) return;
    const ok = head.startsWith('HTTP/1.1 200');
    this.buf = this.buf.subarray(end + 4 + length);
    this.busy = false;
    this.onDone(this.due, ok);
  }
  close(): void {
    this.socket.destroy();
  }
}

/**
 * Sends `rate` requests per second for `durationMs` to `url` with header `host`, on `connections` sockets.
 * @example await fixedRate({ url: 'http://127.0.0.1:8080/', host: 'up', rate: 1000, durationMs: 10_000, connections: 32 })
 */
export async function fixedRate(options: { url: string; host: string; rate: number; durationMs: number; connections: number; warmupMs?: number }): Promise<FixedRateResult> {
  const origin = new URL(options.url);
  const request = Buffer.from(`GET ${origin.pathname} HTTP/1.1\r\nHost: ${options.host}\r\n\r\n`);
  const intervalMs = 1000 / options.rate;
  const total = Math.floor((options.durationMs / 1000) * options.rate);
  const warmup = Math.floor(((options.warmupMs ?? 1000) / 1000) * options.rate);
  const latencies = new Float64Array(total + warmup);
  let recorded = 0;
  let errors = 0;
  let done = 0;
  let next = 0;
  const waiting: number[] = []; // due times of requests no connection was free for
  let resolveAll: () => void = () => {};
  const finished = new Promise<void>((r) => (resolveAll = r));
  const conns: Conn[] = [];
  const onDone = (due: number, ok: boolean): void => {
    const us = (performance.now() - due) * 1000;
    if (done >= warmup) latencies[recorded++] = us;
    if (!ok) errors++;
    done++;
    if (done === total + warmup) resolveAll();
    const queued = waiting.shift();
    if (queued !== undefined) idle()?.send(queued);
  };
  const idle = (): Conn | undefined => conns.find((c) => !c.busy);
  for (let i = 0; i < options.connections; i++) conns.push(new Conn(origin.hostname, Number(origin.port), request, onDone));
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  const tick = (): void => {
    const now = performance.now();
    while (next < total + warmup && start + next * intervalMs <= now) {
      const due = start + next * intervalMs;
      next++;
      const c = idle();
      if (c === undefined) waiting.push(due);
      else c.send(performance.now());
    }
    if (next < total + warmup) setTimeout(tick, 1);
  };
  tick();
  const timeout = setTimeout(resolveAll, options.durationMs + (options.warmupMs ?? 1000) + 30_000);
  await finished;
  clearTimeout(timeout);
  for (const c of conns) c.close();
  const sorted = latencies.subarray(0, recorded).sort();
  return { rate: options.rate, sent: total, errors, unfinished: total + warmup - done, p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? NaN };
}
