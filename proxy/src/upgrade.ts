// Upgrade passthrough (WebSocket and other `Upgrade` requests): the request head is re-sent to the
// upstream with the hop's trace headers, then bytes are piped both ways untouched, with backpressure
// (stream.pipe pauses the faster side). Either side closing closes the other.
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { toMeshError, type MeshError } from './errors.ts';
import { writeRawError } from './accept.ts';

/** Headers of the upgrade request to send on: everything but the proxy's own hop headers. */
const DROP = new Set(['proxy-connection', 'proxy-authorization', 'keep-alive', 'traceparent', 'tracestate', 'x-meshlet-caller']);

export interface UpgradeTarget {
  address: string;
  service: string | null;
  /** Extra header lines (`name`, `value` pairs): trace context, caller. */
  headers: readonly string[];
  connectTimeoutMs: number;
  /** mTLS options for a connection to another sidecar, or null for plain TCP. */
  tls: ConnectionOptions | null;
  onDone?: (err: MeshError | null) => void;
}

export function passUpgrade(req: IncomingMessage, client: Socket, head: Buffer, target: UpgradeTarget): void {
  let reported = false;
  const report = (err: MeshError | null): void => {
    if (reported) return;
    reported = true;
    target.onDone?.(err);
  };
  const colon = target.address.lastIndexOf(':');
  const where = { host: target.address.slice(0, colon), port: Number(target.address.slice(colon + 1)) };
  const upstream = target.tls === null ? net.connect(where) : process.getBuiltinModule('node:tls').connect({ ...where, ...target.tls });
  upstream.setNoDelay(true);
  let connected = false;
  const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), target.connectTimeoutMs);
  upstream.once(target.tls === null ? 'connect' : 'secureConnect', () => {
    connected = true;
    clearTimeout(timer);
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (!DROP.has((raw[i] as string).toLowerCase())) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    }
    for (let i = 0; i < target.headers.length; i += 2) lines.push(`${target.headers[i]}: ${target.headers[i + 1]}`);
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', (err) => {
    clearTimeout(timer);
    if (!connected) {
      const mesh = toMeshError(err, target.service, target.address);
      writeRawError(client, mesh);
      report(mesh);
    } else client.destroy();
  });
  upstream.on('close', () => {
    clearTimeout(timer);
    if (connected) {
      client.end();
      report(null);
    }
  });
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
}

