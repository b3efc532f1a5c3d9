// The read-only config API for sidecars on `<bridge ip>:15010` (wire's CONFIG_API):
//   GET /v1/pods/<pod>/config           → the pod's SidecarConfig, ETag "<revision>", 304 on If-None-Match
//   GET /v1/pods/<pod>/config?watch=1   → text/event-stream: `event: config` now and after every change
// A pod's revision changes only when its config does; a change reaches open streams at once.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONFIG_API, type SidecarConfig } from '@meshlet/wire';

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
}

const PING_INTERVAL_MS = 15_000; // 15 s, as the contract says

export async function createConfigServer(o: { host: string; port: number }): Promise<ConfigServer> {
  const entries = new Map<string, Entry>();
  const watchers = new Map<string, Set<ServerResponse>>();
  let counter = 0;

  const send = (res: ServerResponse, entry: Entry) => {
    res.write(`event: ${CONFIG_API.event}\nid: ${entry.revision}\ndata: ${entry.body}\n\n`);
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
    if (url.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.socket?.setNoDelay(true);
      send(res, entry);
      let set = watchers.get(pod);
      if (set === undefined) watchers.set(pod, (set = new Set()));
      set.add(res);
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
    res.end(req.method === 'HEAD' ? undefined : entry.body);
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
        const entry: Entry = { key, revision, body: JSON.stringify({ ...config, revision }) };
        entries.set(pod, entry);
        for (const res of watchers.get(pod) ?? []) send(res, entry);
      }
      for (const pod of [...entries.keys()]) {
        if (configs.has(pod)) continue;
        entries.delete(pod);
        for (const res of watchers.get(pod) ?? []) res.end();
        watchers.delete(pod);
      }
    },
    revision: (pod) => entries.get(pod)?.revision,
    async close() {
      for (const set of watchers.values()) for (const res of set) res.end();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
