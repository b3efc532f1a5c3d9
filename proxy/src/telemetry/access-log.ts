// The access log: one pino JSON line per request, serialised on the request path but written by a
// worker thread (pino transport), so disk or pipe slowness never stalls traffic. When the worker's
// buffer is full the line is dropped and counted instead of queued without bound.
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

/** Where lines go: a file descriptor (1 = stdout) or a file path. */
export function createAccessLog(destination: number | string, onDrop: (n: number) => void): AccessLog {
  const transport = pino.transport({ target: 'pino/file', options: { destination, mkdir: true } }) as unknown as pino.DestinationStream & {
    writableNeedDrain?: boolean;
    once(event: string, cb: () => void): void;
    end(): void;
  };
  const logger: Logger = pino({ base: null, messageKey: 'msg', timestamp: pino.stdTimeFunctions.isoTime }, transport);
  return {
    write(entry) {
      if (transport.writableNeedDrain === true) {
        onDrop(1);
        return;
      }
      logger.info(entry, 'access');
    },
    async close() {
      await new Promise<void>((resolve) => {
        logger.flush(() => resolve());
        setTimeout(resolve, 1_000).unref();
      });
      transport.end();
      await new Promise<void>((resolve) => {
        transport.once('close', resolve);
        setTimeout(resolve, 1_000).unref();
      });
    },
  };
}
