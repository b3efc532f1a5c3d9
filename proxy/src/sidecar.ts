// The sidecar: two listeners with their layer stacks, the admin listener, and the state a config
// revision compiles into. A new revision swaps the routing table atomically: requests in flight
// finish on the table they started with, the next request uses the new one.
//
//   outbound (app → mesh)  accept → rescue → record → route → fault → timeout → retry → balance → forward
//   inbound  (mesh → app)  accept → rescue → record → authorize → fault → forward(app)
//
// Both plain listeners accept HTTP/1.1 and h2c on one port (accept.ts); between sidecars requests
// travel as HTTP/1.1 (undici pools, trailers included); an app marked `appProtocol: h2c` is reached
// over one multiplexed HTTP/2 session (h2-client.ts).
// `record` sits above `authorize` on inbound (DESIGN.md lists it below) so denied and rate-limited
// calls get a SERVER span and metrics too.
import http from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Pool } from 'undici';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { ATTR, CALLER_HEADER, RESOURCE, spiffeId, withoutPrivateKey, type SidecarConfig } from '@meshlet/wire';
import { createAcceptServer, writeRawError, type AcceptServer } from './accept.ts';
import { H2AppClient } from './h2-client.ts';
import { Destinations, resolveDestination, type RoutingTable } from './destinations.ts';
import { MeshError } from './errors.ts';
import { forward } from './forward.ts';
import { authorize, TokenBucket } from './layers/authorize.ts';
import { balance } from './layers/balance.ts';
import { fault } from './layers/fault.ts';
import { record } from './layers/record.ts';
import { rescue } from './layers/rescue.ts';
import { retry } from './layers/retry.ts';
import { route } from './layers/route.ts';
import { timeout } from './layers/timeout.ts';
import { Pools, poolOptions } from './pools.ts';
import { stack, type Direction, type Layer, type ProxyRequest, type Target } from './service.ts';
import { createAccessLog, type AccessLog } from './telemetry/access-log.ts';
import { routeTemplate } from './telemetry/label-budget.ts';
import { createMetrics, type Metrics } from './telemetry/metrics.ts';
import { createTracer, type Tracer } from './telemetry/tracer.ts';
import { TraceTracker } from './trace-tracker.ts';
import { passUpgrade } from './upgrade.ts';
import { clientTlsOptions, serverTlsOptions } from './mtls.ts';
import { extractParent, formatTraceparent } from './context.ts';

export interface Addresses {
  inbound: string;
  outbound: string;
  admin: string;
}

export interface SidecarOptions {
  /** Operational log (stderr). */
  logger: Logger;
  /** Access log destination: a file descriptor (1 = stdout) or a path. */
  accessLogDestination?: number | string;
  now?: () => number;
  random?: () => number;
  /** Called after `POST /shutdown` drained the sidecar. */
  onShutdown?: () => void;
  /** Overrides of the span export (tests). */
  tracerOptions?: { flushIntervalMs?: number; maxQueueSize?: number; exportTimeoutMs?: number };
}

export interface Sidecar {
  /** Binds the admin listener (before any config, so `/live` answers and `/ready` says 503). */
  listenAdmin(address: string): Promise<string>;
  /** Applies a config revision; the first one binds the listeners. */
  apply(config: SidecarConfig): Promise<void>;
  /** Records a rejected config (the previous one stays). */
  rejected(problems: readonly string[]): void;
  addresses(): Addresses;
  readonly ready: boolean;
  config(): SidecarConfig | null;
  metrics(): Metrics;
  /** Stops accepting, lets requests in flight finish (bounded by drainTimeoutMs), flushes telemetry. */
  drain(): Promise<void>;
  /** Drains, then closes everything. */
  close(): Promise<void>;
}

function listen(server: http.Server, address: string): Promise<string> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    });
  });
}

function close(server: http.Server | null): Promise<void> {
  if (server === null || !server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

export function createSidecar(options: SidecarOptions): Sidecar {
  const log = options.logger;
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  let config: SidecarConfig | null = null;
  let table: RoutingTable = { byName: new Map(), byVip: new Map(), pools: new Set() };
  let appTarget: Target | null = null;
  let bucket: TokenBucket | null = null;
  let ready = false;
  let draining = false;
  let drained: Promise<void> | null = null;
  const metrics = createMetrics();
  const inflight = new TraceTracker();
  const active = { count: 0 };
  /** Upgraded (WebSocket) connections: closed once plain requests have drained. */
  const tunnels = new Set<Socket>();
  const track = (socket: Socket): void => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
  };
  let tracer: Tracer | null = null;
  let accessLog: AccessLog | null = null;
  let pools: Pools | null = null;
  let destinations: Destinations | null = null;
  let inboundServer: http.Server | null = null;
  let outboundServer: http.Server | null = null;
  let inboundAccept: AcceptServer | null = null;
  let outboundAccept: AcceptServer | null = null;
  /** The app's h2c client (`appProtocol: h2c`), kept across revisions while the app address stays. */
  let appH2: H2AppClient | null = null;
  let adminServer: http.Server | null = null;
  /** The inbound listener is TLS (an https.Server): the first revision had mTLS material. */
  let inboundTls = false;
  const addresses: Addresses = { inbound: '', outbound: '', admin: '' };

  const current = (): SidecarConfig => config as SidecarConfig;
  const telemetry = () => current().telemetry;

  metrics.setCollect(({ budgetUsed, ejected }) => {
    if (destinations === null) return;
    const t = now();
    for (const [name, balancer, budget] of destinations.each()) {
      budgetUsed.set({ destination: name }, budget.usedRatio());
      ejected.set({ destination: name }, balancer.ejectedCount(t));
    }
  });

  const buildStacks = (t: Tracer, service: string) => {
    const recorder = record({
      tracer: t,
      metrics: () => (telemetry().metrics ? metrics : null),
      accessLog: () => (telemetry().accessLog ? (accessLog ??= createAccessLog(options.accessLogDestination ?? 1, (n) => metrics.telemetryDropped('logs', n))) : null),
      localService: () => current().service,
      inflight,
    });
    const onUnexpected = (err: unknown): void => log.error({ err }, 'unexpected error in the request path');
    const outbound = stack(
      [
        rescue(onUnexpected),
        recorder,
        route(() => table, random),
        fault({ rules: (req) => req.destination?.config.faults ?? [], testMode: () => current().testMode, headerScope: (req) => req.service, random }),
        timeout(),
        retry({ tracer: t, metrics, maxRetryBodyBytes: () => current().limits.maxRetryBodyBytes, random }),
        balance(),
      ],
      forward([CALLER_HEADER, service]),
    );
    const toApp: Layer = (next) => (req) => {
      req.service = current().service;
      if (appTarget === null) return Promise.reject(new MeshError('no_endpoints', `${current().service} has no local app (outbound-only sidecar)`, { service: req.service }));
      req.target = appTarget;
      req.endpoint = appTarget.address;
      req.route = routeTemplate(req.path);
      return next(req);
    };
    const inbound = stack(
      [
        rescue(onUnexpected),
        toApp,
        recorder,
        authorize(current, (req) => ({ service: req.peerService, spiffe: req.peerIdentity }), () => bucket),
        fault({ rules: () => current().inbound.faults, testMode: () => current().testMode, headerScope: () => current().service, random }),
      ],
      forward(),
    );
    return { outbound, inbound };
  };

  const onRejected = (direction: string, status: number, reason: string, detail: string): void => {
    if (config === null) return;
    if (telemetry().metrics) {
      metrics.request({ direction, source: 'unknown', destination: direction === 'inbound' ? current().service : 'unknown', route: '(rejected)', status, reason, durationSeconds: 0 });
    }
    log.info({ direction, status, reason, detail }, 'request rejected before routing');
  };

  const bind = async (cfg: SidecarConfig): Promise<void> => {
    pools = new Pools(poolOptions(cfg.limits, cfg.tls));
    destinations = new Destinations(pools, { now, random, onEject: (e, service) => {
      metrics.ejection(service);
      log.warn({ service, endpoint: e.address, timesEjected: e.timesEjected }, 'endpoint ejected after consecutive failures');
    } });
    tracer = createTracer({
      resource: resourceOf(cfg),
      collectorUrl: cfg.telemetry.spans ? cfg.collector : null,
      onDrop: (n) => metrics.telemetryDropped('spans', n),
      ...options.tracerOptions,
    });
    const stacks = buildStacks(tracer, cfg.service);
    const common = {
      maxHeaderBytes: cfg.limits.maxHeaderBytes,
      maxHeaderCount: () => current().limits.maxHeaderCount,
      headersTimeoutMs: cfg.limits.headersTimeoutMs,
      keepAliveTimeoutMs: cfg.limits.keepAliveTimeoutMs,
      draining: () => draining,
      onRejected,
      active,
      onTrailersDropped: (req: ProxyRequest, names: string[]) => {
        req.span?.setAttribute(ATTR.requestTrailersDropped, names.join(','));
        log.warn({ direction: req.direction, service: req.service, trailers: names }, 'h2c request trailers dropped: the HTTP/1.1 hop between sidecars cannot carry them');
      },
      onProtocolError: (direction: Direction, err: Error & { code?: string }) => log.info({ direction, code: err.code, err: err.message }, 'h2c session closed after a protocol error'),
    };
    outboundAccept = createAcceptServer({
      ...common,
      keepAliveTimeoutMs: cfg.limits.appKeepAliveTimeoutMs,
      tls: null,
      direction: 'outbound',
      service: stacks.outbound,
      onUpgrade: (req, socket, head) => {
        const dest = resolveDestination(table, req.headers.host ?? '');
        if (dest === null) {
          writeRawError(socket, new MeshError('unknown_service', `no service in the mesh is called ${req.headers.host ?? '(no Host)'}`));
          return;
        }
        let endpoint;
        try {
          endpoint = dest.balancer.pick(null);
        } catch (err) {
          writeRawError(socket, err as MeshError);
          return;
        }
        dest.balancer.cancel(endpoint);
        track(socket);
        const tlsMaterial = current().tls;
        const tls = tlsMaterial === null ? null : clientTlsOptions(tlsMaterial, dest.config.identity ?? spiffeId(current().mesh, dest.name));
        const traced = upgradeSpan(req, true, dest.name);
        passUpgrade(req, socket, head, { address: endpoint.address, service: dest.name, headers: traced.headers, connectTimeoutMs: current().limits.connectTimeoutMs, tls, onDone: traced.done });
      },
    });
    outboundServer = outboundAccept.server;
    inboundAccept = createAcceptServer({
      ...common,
      // Under mTLS the inbound listener is TLS-only: callers must present a mesh certificate.
      tls: cfg.tls === null ? null : serverTlsOptions(cfg.tls),
      direction: 'inbound',
      service: stacks.inbound,
      onUpgrade: (req, socket, head) => {
        if (appTarget === null) {
          writeRawError(socket, new MeshError('no_endpoints', `${current().service} has no local app`));
          return;
        }
        track(socket);
        const traced = upgradeSpan(req, false, null);
        passUpgrade(req, socket, head, { address: appTarget.address, service: current().service, headers: traced.headers, connectTimeoutMs: current().limits.connectTimeoutMs, tls: null, onDone: traced.done });
      },
    });
    inboundServer = inboundAccept.server;
    inboundTls = cfg.tls !== null;
    addresses.outbound = await listen(outboundServer, cfg.listen.outbound);
    addresses.inbound = await listen(inboundServer, cfg.listen.inbound);
  };

  /**
   * The span of an Upgrade (WebSocket) tunnel: SERVER on inbound, CLIENT on outbound, from the handshake
   * until the tunnel closes; its id goes upstream in `traceparent`.
   */
  const upgradeSpan = (req: http.IncomingMessage, outbound: boolean, peer: string | null): { headers: string[]; done: (err: MeshError | null) => void } => {
    const t = tracer as Tracer;
    const attributes: Record<string, string> = { [ATTR.direction]: outbound ? 'outbound' : 'inbound', [ATTR.httpMethod]: req.method ?? 'GET', [ATTR.urlPath]: (req.url ?? '/').split('?')[0] ?? '/', 'network.protocol.name': String(req.headers.upgrade ?? '') };
    if (peer !== null) attributes[ATTR.peerService] = peer;
    const span = t.startSpan(`${req.method ?? 'GET'} upgrade`, outbound ? 'client' : 'server', extractParent(req.headers), t.recording ? attributes : {});
    const headers = ['traceparent', formatTraceparent(span.traceId, span.spanId, span.sampled)];
    if (outbound) headers.push(CALLER_HEADER, current().service);
    return {
      headers,
      done: (err) => {
        if (err !== null && span.recording) {
          span.setAttribute(ATTR.errorReason, err.reason);
          span.setAttribute(ATTR.errorOrigin, 'proxy');
          span.setError(err.message);
        }
        span.end();
      },
    };
  };

  const resourceOf = (cfg: SidecarConfig) => {
    const r: Record<string, string> = {
      [RESOURCE.serviceName]: cfg.service,
      [RESOURCE.mesh]: cfg.mesh,
      [RESOURCE.component]: 'sidecar',
      [RESOURCE.pod]: cfg.pod ?? `${cfg.service}-${process.pid}`,
      [RESOURCE.serviceInstanceId]: cfg.pod ?? `${cfg.service}-${process.pid}`,
    };
    if (cfg.serviceVersion !== undefined) r[RESOURCE.serviceVersion] = cfg.serviceVersion;
    if (cfg.podIp !== undefined) r[RESOURCE.podIp] = cfg.podIp;
    return r;
  };

  const applyRevision = (cfg: SidecarConfig): void => {
    const p = pools as Pools;
    p.setOptions(poolOptions(cfg.limits, cfg.tls));
    table = (destinations as Destinations).compile(cfg);
    if (cfg.app === null || cfg.appProtocol !== 'h2c') {
      if (appH2 !== null) void appH2.close();
      appH2 = null;
      appTarget = cfg.app === null ? null : { address: cfg.app, pool: p.get(cfg.app) };
    } else {
      if (appH2 === null || appTarget?.address !== cfg.app) {
        if (appH2 !== null) void appH2.close();
        appH2 = new H2AppClient(cfg.app, { connectTimeoutMs: cfg.limits.connectTimeoutMs, maxHeaderBytes: cfg.limits.maxHeaderBytes });
      }
      appTarget = { address: cfg.app, pool: appH2 };
    }
    const keep = new Set(table.pools);
    if (appTarget !== null && appH2 === null) keep.add(appTarget.pool as Pool);
    p.retain(keep);
    if (cfg.tls !== null && config !== null && (cfg.tls.certPem !== config.tls?.certPem || cfg.tls.keyPem !== config.tls.keyPem || cfg.tls.caPem !== config.tls.caPem) && inboundTls) {
      // A rotated certificate applies to new connections at once.
      (inboundServer as HttpsServer).setSecureContext(serverTlsOptions(cfg.tls));
    }
    const rl = cfg.inbound.rateLimit;
    const oldRl = config?.inbound.rateLimit;
    if (rl === undefined) bucket = null;
    else if (bucket === null || oldRl?.rps !== rl.rps || oldRl.burst !== rl.burst) bucket = new TokenBucket(rl.rps, rl.burst, now);
    (tracer as Tracer).setCollector(cfg.telemetry.spans ? cfg.collector : null);
    config = cfg;
    metrics.configApplied(cfg.revision);
  };

  const admin = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/live') return send(200, 'live\n');
    if (path === '/ready') return ready && !draining ? send(200, 'ready\n') : send(503, draining ? 'draining\n' : 'waiting for a valid config\n');
    if (path === '/metrics') {
      metrics.render().then(
        (text) => send(200, text, metrics.registry.contentType),
        (err: unknown) => send(500, String(err)),
      );
      return;
    }
    if (path === '/config') return config === null ? send(503, 'no config yet\n') : send(200, JSON.stringify(withoutPrivateKey(config), null, 2), 'application/json');
    if (path === '/shutdown') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return send(405, 'use POST /shutdown\n');
      }
      send(202, 'draining\n');
      void sidecar.drain().then(() => options.onShutdown?.());
      return;
    }
    send(404, 'admin endpoints: /ready /live /metrics /config POST /shutdown\n');
  };

  const sidecar: Sidecar = {
    async listenAdmin(address) {
      adminServer = http.createServer(admin);
      addresses.admin = await listen(adminServer, address);
      return addresses.admin;
    },
    async apply(cfg) {
      if (draining) return;
      if (config === null) {
        await bind(cfg);
        applyRevision(cfg);
        ready = true;
        log.info({ revision: cfg.revision }, 'config applied');
        return;
      }
      if (cfg.listen.inbound !== config.listen.inbound || cfg.listen.outbound !== config.listen.outbound) {
        log.warn({ listen: cfg.listen }, 'listen addresses changed: they apply after a restart; the listeners stay where they are');
      }
      applyRevision(cfg);
      log.info({ revision: cfg.revision }, 'config applied');
    },
    rejected(problems) {
      metrics.configRejected();
      log.error({ problems }, 'config rejected; the previous one stays in force');
    },
    addresses: () => ({ ...addresses }),
    get ready() {
      return ready && !draining;
    },
    config: () => config,
    metrics: () => metrics,
    drain() {
      if (drained !== null) return drained;
      draining = true;
      drained = (async () => {
        log.info({ active: active.count }, 'draining');
        const closing = Promise.all([close(inboundServer), close(outboundServer)]);
        // h2c sessions get GOAWAY: no new streams, the ones in flight finish.
        inboundAccept?.goaway();
        outboundAccept?.goaway();
        const deadline = Date.now() + (config?.limits.drainTimeoutMs ?? 10_000);
        while (active.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        inboundServer?.closeAllConnections();
        outboundServer?.closeAllConnections();
        inboundAccept?.destroy();
        outboundAccept?.destroy();
        for (const socket of tunnels) socket.destroy();
        await closing;
        if (active.count > 0) log.warn({ active: active.count }, 'drain timeout: requests still in flight were cut');
        await tracer?.close();
        await accessLog?.close();
        await pools?.close();
        await appH2?.close();
        log.info('drained');
      })();
      return drained;
    },
    async close() {
      await sidecar.drain();
      adminServer?.closeAllConnections();
      await close(adminServer);
    },
  };
  return sidecar;
}
