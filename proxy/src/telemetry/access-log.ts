// The access log: one pino JSON line per request. Lines are serialised on the request path into an
// in-memory buffer and written in batches of at least 32 KiB (or every 250 ms) with asynchronous
// fs writes, which libuv runs on its thread pool: disk or pipe slowness never stalls traffic. The
// buffer is bounded (4 MiB); past it lines are dropped and counted. (pino's worker-thread transport
// was measured first: its per-write cross-thread notification cost more than the whole log line.)
import pino, { type Logger } from 'pino';

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

/** Where lines go: a file descriptor (1 = stdout) or a file path. */
export function createAccessLog(destination: number | string, onDrop: (n: number) => void): AccessLog {
  const stream = pino.destination({ dest: destination, sync: false, minLength: BATCH_BYTES, maxWrite: MAX_WRITE_BYTES, maxLength: MAX_BUFFERED_BYTES, mkdir: true });
  stream.on('drop', () => onDrop(1));
  // A write error (EPIPE on a closed stdout) must not crash the sidecar: lines are lost, traffic goes on.
  stream.on('error', () => onDrop(1));
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // not ready yet (the file is still opening)
    }
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  const logger: Logger = pino({ base: null, messageKey: 'msg', timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return {
    write(entry) {
      logger.info(entry, 'access');
    },
    async close() {
      clearInterval(timer);
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
