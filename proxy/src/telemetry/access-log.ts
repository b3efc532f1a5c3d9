// The access log: one JSON line per request, in pino's format (`level`, `time`, the fields, `msg`).
// Lines are serialised on the request path by a fixed formatter (1 µs against pino's 7.5 µs for its
// generic object walk, on the bench machine), joined into batches of 32 KiB and handed to pino's
// destination, an in-memory buffer written (at least every 250 ms) with asynchronous fs writes, which
// libuv runs on its thread pool: disk or pipe slowness never stalls traffic. The buffer is bounded
// (4 MiB); past it lines are dropped and counted. (pino's worker-thread transport was measured first:
// its per-write cross-thread notification cost more than the whole log line.)
import pino from 'pino';

export interface AccessEntry {
  direction: string;
  method: string;
  authority: string;
  path: string;
  status: number;
  reason: string | null;
  origin: string | null;
  service: string | null;
  peer: string | null;
  route: string;
  endpoint: string | null;
  durationMs: number;
  bytesOut: number;
  traceId: string | null;
  spanId: string | null;
  requestId: string;
  attempts: number;
  faultInjected: boolean;
}

export interface AccessLog {
  write(entry: AccessEntry): void;
  close(): Promise<void>;
}

const BATCH_BYTES = 32 * 1024;
const MAX_WRITE_BYTES = 256 * 1024;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const FLUSH_INTERVAL_MS = 250;

/** JSON string literal of a value that may be null. */
const str = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));

let isoMs = NaN;
let iso = '';

/**
 * One access log line: what `pino({ base: null, timestamp: isoTime }).info(entry, 'access')` writes,
 * field for field, without pino's per-key walk over the object.
 */
export function formatAccessLine(e: AccessEntry, nowMs: number): string {
  if (nowMs !== isoMs) {
    isoMs = nowMs;
    iso = new Date(nowMs).toISOString();
  }
  return (
    `{"level":30,"time":"${iso}","direction":${str(e.direction)},"method":${str(e.method)},"authority":${str(e.authority)},"path":${str(e.path)}` +
    `,"status":${e.status},"reason":${str(e.reason)},"origin":${str(e.origin)},"service":${str(e.service)},"peer":${str(e.peer)},"route":${str(e.route)}` +
    `,"endpoint":${str(e.endpoint)},"durationMs":${e.durationMs},"bytesOut":${e.bytesOut},"traceId":${str(e.traceId)},"spanId":${str(e.spanId)}` +
    `,"requestId":${str(e.requestId)},"attempts":${e.attempts},"faultInjected":${e.faultInjected},"msg":"access"}\n`
  );
}

function countLines(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) n++;
  return Math.max(1, n);
}

/** Where lines go: a file descriptor (1 = stdout) or a file path. */
export function createAccessLog(destination: number | string, onDrop: (n: number) => void): AccessLog {
  const stream = pino.destination({ dest: destination, sync: false, minLength: BATCH_BYTES, maxWrite: MAX_WRITE_BYTES, maxLength: MAX_BUFFERED_BYTES, mkdir: true });
  // Lines are joined here and handed to the stream a batch at a time: sonic-boom measures the byte
  // length of its whole pending buffer on every write(), which per line made each request cost
  // O(buffered bytes) (2–3 % of the sidecar's CPU profile under load).
  let batch = '';
  const handOver = (): void => {
    if (batch === '') return;
    const lines = batch;
    batch = '';
    stream.write(lines);
  };
  stream.on('drop', (data: string) => onDrop(countLines(data)));
  // A write error (EPIPE on a closed stdout) must not crash the sidecar: lines are lost, traffic goes on.
  stream.on('error', () => onDrop(1));
  const timer = setInterval(() => {
    handOver();
    try {
      stream.flush();
    } catch {
      // not ready yet (the file is still opening)
    }
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    write(entry) {
      batch += formatAccessLine(entry, Date.now());
      if (batch.length >= BATCH_BYTES) handOver();
    },
    async close() {
      clearInterval(timer);
      handOver();
      await new Promise<void>((resolve) => {
        const done = setTimeout(resolve, 1_000);
        done.unref();
        stream.once('close', () => {
          clearTimeout(done);
          resolve();
        });
        try {
          stream.end();
        } catch {
          resolve();
        }
      });
    },
  };
}
