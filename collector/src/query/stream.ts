// Server-Sent Events for `/api/v1/stream`: every connected client gets each published event. A client
// that cannot keep up (its socket buffer is full) is dropped rather than buffered without bound.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamEvent } from '@meshlet/wire';

/** Comment lines keep idle connections (and proxies between) from timing out. */
const KEEPALIVE_MS = 15_000;
/** A client whose unsent data exceeds this is disconnected. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface StreamHub {
  attach(req: IncomingMessage, res: ServerResponse): void;
  publish(event: StreamEvent['event'], data: StreamEvent['data']): void;
  readonly clients: number;
  close(): void;
}

export function createStreamHub(): StreamHub {
  const clients = new Set<ServerResponse>();
  let nextId = 1;
  const keepalive = setInterval(() => {
    for (const res of clients) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  return {
    attach(req: IncomingMessage, res: ServerResponse): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'access-control-allow-origin': '*',
      });
      // Reconnect after 2 s if the connection drops (EventSource's `retry`).
      res.write('retry: 2000\n\n');
      clients.add(res);
      const drop = (): void => {
        clients.delete(res);
      };
      req.on('close', drop);
      res.on('close', drop);
    },
    publish(event, data): void {
      if (clients.size === 0) return;
      const frame = `id: ${nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      for (const res of clients) {
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          clients.delete(res);
          res.destroy();
          continue;
        }
        res.write(frame);
      }
    },
    get clients() {
      return clients.size;
    },
    close(): void {
      clearInterval(keepalive);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
