// The read-only config API for sidecars on `<bridge ip>:15010` (wire's CONFIG_API):
//   GET /v1/pods/<pod>/config           → the pod's SidecarConfig, ETag "<revision>", 304 on If-None-Match
//   GET /v1/pods/<pod>/config?watch=1   → text/event-stream: `event: config` now and after every change
// A pod's revision changes only when its config does; a change reaches open streams at once.
// Under mTLS a config carries the pod's private key: with `mayReadKey`, a client it refuses (in netns
// isolation: anyone but the pod itself, by source address) gets the config with the key redacted.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONFIG_API, withoutPrivateKey, type SidecarConfig } from '@meshlet/wire';

export interface ConfigServer {
  /** Where it listens (`host:port`). */
  address(): string;
  /** Replaces the configs of all pods; changed ones get a new revision and are pushed. */
  update(configs: ReadonlyMap<string, SidecarConfig>): void;
  /** Current revision of a pod's config (undefined for unknown pods). */
  revision(pod: string): number | undefined;
  close(): Promise<void>;
}

interface Entry {
  /** The config without its revision, to tell real changes apart. */
  key: string;
  revision: number;
  body: string;
  /** The body with `tls.keyPem` redacted (configs with tls only). */
  redacted: string | undefined;
}

/** `::ffff:10.77.0.2` → `10.77.0.2`. */
const plainAddress = (a: string | undefined) => (a ?? '').replace(/^::ffff:/, '');

const PING_INTERVAL_MS = 15_000; // 15 s, as the contract says

export interface ConfigServerOptions {
  host: string;
  port: number;
  /** Whether the client at `remoteAddress` may read the private key in `pod`'s config; unset: everyone. */
  mayReadKey?: (pod: string, remoteAddress: string) => boolean;
}

export async function createConfigServer(o: ConfigServerOptions): Promise<ConfigServer> {
  const entries = new Map<string, Entry>();
  /** Open watch streams per pod, each with whether it may see the key. */
  const watchers = new Map<string, Map<ServerResponse, boolean>>();
  let counter = 0;

  const bodyFor = (entry: Entry, withKey: boolean) => (withKey || entry.redacted === undefined ? entry.body : entry.redacted);
  const send = (res: ServerResponse, entry: Entry, withKey: boolean) => {
    res.write(`event: ${CONFIG_API.event}\nid: ${entry.revision}\ndata: ${bodyFor(entry, withKey)}\n\n`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://config');
    const match = /^\/v1\/pods\/([^/]+)\/config$/.exec(url.pathname);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (match === null) return json(404, { error: 'not_found', message: `no such path ${url.pathname}; try ${CONFIG_API.podConfigPath('<pod>')}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(405, { error: 'method_not_allowed', message: 'the config API is read-only' });
    }
    const pod = decodeURIComponent(match[1] as string);
    const entry = entries.get(pod);
    if (entry === undefined) return json(404, { error: 'unknown_pod', message: `no pod "${pod}" in this mesh` });
    const withKey = o.mayReadKey === undefined || o.mayReadKey(pod, plainAddress(req.socket.remoteAddress));
    if (url.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.socket?.setNoDelay(true);
      send(res, entry, withKey);
      let set = watchers.get(pod);
      if (set === undefined) watchers.set(pod, (set = new Map<ServerResponse, boolean>()));
      set.set(res, withKey);
      const ping = setInterval(() => res.write(': ping\n\n'), PING_INTERVAL_MS);
      ping.unref();
      res.on('close', () => {
        clearInterval(ping);
        watchers.get(pod)?.delete(res);
      });
      return;
    }
    const etag = `"${entry.revision}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json', etag, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : bodyFor(entry, withKey));
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;

  return {
    address: () => `${addr.address}:${addr.port}`,
    update(configs) {
      for (const [pod, config] of configs) {
        const { revision: _ignored, ...rest } = config;
        const key = JSON.stringify(rest);
        const old = entries.get(pod);
        if (old?.key === key) continue;
        const revision = ++counter;
        const entry: Entry = {
          key,
          revision,
          body: JSON.stringify({ ...config, revision }),
          redacted: config.tls === null ? undefined : JSON.stringify({ ...withoutPrivateKey(config), revision }),
        };
        entries.set(pod, entry);
        for (const [res, withKey] of watchers.get(pod) ?? []) send(res, entry, withKey);
      }
      for (const pod of [...entries.keys()]) {
        if (configs.has(pod)) continue;
        entries.delete(pod);
        for (const res of watchers.get(pod)?.keys() ?? []) res.end();
        watchers.delete(pod);
      }
    },
    revision: (pod) => entries.get(pod)?.revision,
    async close() {
      for (const set of watchers.values()) for (const res of set.keys()) res.end();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
