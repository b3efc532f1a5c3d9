// The shop's small HTTP toolkit, written the way an application team instruments a service by hand:
// a node:http server with a route table and a health endpoint, JSON in and out, and a client that
// calls other services by name and forwards the request's trace context (W3C traceparent/tracestate,
// baggage, x-request-id) onto every outbound call, as the mesh asks of apps (the sidecar can join a
// hop's spans only when the app passes these on). It knows nothing of meshlet: plain Node, no deps,
// runs on Node 18 or later (the containers run the host's node).
import http from 'node:http';

/** Headers an app must copy from its inbound request onto the outbound calls made for it. */
export const CONTEXT_HEADERS = Object.freeze(['traceparent', 'tracestate', 'baggage', 'x-request-id', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled']);

/** An error that becomes an HTTP response: `status`, a JSON body `{ error, ...details }`. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {Record<string, unknown>} [details]
   */
  constructor(status, message, details = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/** Settings from the environment (the runtime sets PORT and HOST; the rest has defaults). */
export function settings(env = process.env) {
  return {
    service: env.MESHLET_SERVICE ?? env.SHOP_SERVICE ?? 'shop',
    version: env.MESHLET_SERVICE_VERSION ?? env.SHOP_VERSION ?? '',
    pod: env.MESHLET_POD ?? env.HOSTNAME ?? '',
    port: Number(env.PORT ?? 8080),
    host: env.HOST ?? '0.0.0.0',
    /** Whether this service passes trace context on (the "legacy" variant sets SHOP_PROPAGATE_CONTEXT=false). */
    propagate: (env.SHOP_PROPAGATE_CONTEXT ?? 'true') !== 'false',
    /** Upper bound of the work each request simulates, in ms (0: none). */
    workMs: Number(env.SHOP_WORK_MS ?? 8),
    /** How long the app waits for another service before giving up (longer than the mesh's timeouts). */
    callTimeoutMs: Number(env.SHOP_CALL_TIMEOUT_MS ?? 10_000),
  };
}

/** Where another service is: `<NAME>_URL` from the environment, else `http://<name>:8080`. */
export function serviceUrl(name, env = process.env) {
  return env[`${name.toUpperCase().replaceAll('-', '_')}_URL`] ?? `http://${name}:8080`;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1_000 });

/** `HTTP_PROXY`, unless `NO_PROXY` names the host (process isolation sends apps to their sidecar this way). */
function proxyFor(host, env = process.env) {
  const proxy = env.HTTP_PROXY ?? env.http_proxy;
  if (proxy === undefined || proxy === '') return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  if (noProxy.some((h) => h === '*' || host === h || host.endsWith(h.startsWith('.') ? h : `.${h}`))) return undefined;
  return new URL(proxy);
}

/**
 * Calls another service with JSON. `context` holds the inbound request's trace headers (empty when the
 * service does not propagate them). Resolves with `{ status, headers, body }`; rejects on network errors
 * and on the app's own timeout.
 * @param {{ url: string, method?: string, body?: unknown, context?: Record<string, string>, timeoutMs?: number }} o
 */
export function request(o) {
  const url = new URL(o.url);
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers = { ...(o.context ?? {}), accept: 'application/json', host: url.host };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const proxy = proxyFor(url.hostname);
  const target = proxy === undefined
    ? { host: url.hostname, port: url.port || 80, path: url.pathname + url.search }
    : { host: proxy.hostname, port: proxy.port || 80, path: url.href };
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: o.method ?? 'GET', headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = text;
        if ((res.headers['content-type'] ?? '').includes('json')) {
          try {
            body = JSON.parse(text);
          } catch {
            // keep the text
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(Object.assign(new Error(`no answer from ${url.host} within ${o.timeoutMs ?? 10_000} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Route patterns like `/products/:id` → a RegExp with named groups. */
function compile(pattern) {
  const source = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:([a-zA-Z]+)/g, '/(?<$1>[^/]+)');
  return new RegExp(`^${source}$`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MAX_BODY_BYTES = 64 * 1024;

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body above ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'request body is not JSON'));
      }
    });
  });
}

/**
 * Starts a service. `routes` maps `"GET /products/:id"` to a handler `(ctx) => result`, where
 * `ctx = { params, query, body, headers, call(service, path, { method, body }) }` and the result is
 * `{ status?, headers?, body }` or a plain object (sent as JSON with 200). `call` rejects with an
 * HttpError (502, or 504 on the app's own timeout) when the other service fails, naming it.
 * `GET /healthz` answers 200 unless `health()` returns false.
 * @param {{ routes: Record<string, (ctx: any) => unknown>, health?: () => boolean, config?: ReturnType<typeof settings> }} o
 */
export function serve(o) {
  const cfg = o.config ?? settings();
  const table = Object.entries(o.routes).map(([key, handler]) => {
    const [method, pattern] = key.split(' ');
    return { method, regex: compile(pattern), handler };
  });
  const log = (level, msg, fields = {}) => {
    // One JSON line, with the trace id so the line can be found from the trace.
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, service: cfg.service, ...(cfg.version ? { version: cfg.version } : {}), msg, ...fields })}\n`);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const traceId = /^[\da-f]{2}-([\da-f]{32})-/.exec(String(req.headers.traceparent ?? ''))?.[1];
    const send = (status, body, headers = {}) => {
      const payload = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...(cfg.version ? { [`x-${cfg.service}-version`]: cfg.version } : {}), ...headers });
      res.end(payload);
    };
    if (url.pathname === '/healthz') return send(o.health === undefined || o.health() ? 200 : 503, { status: o.health === undefined || o.health() ? 'ok' : 'unhealthy', service: cfg.service, pod: cfg.pod });
    const route = table.find((r) => r.method === req.method && r.regex.test(url.pathname));
    if (route === undefined) {
      const known = table.some((r) => r.regex.test(url.pathname));
      return send(known ? 405 : 404, { error: known ? `${req.method} not allowed on ${url.pathname}` : `no route ${url.pathname}` });
    }
    // What an instrumented app carries from the request it serves to the calls it makes.
    const context = {};
    if (cfg.propagate) for (const h of CONTEXT_HEADERS) if (typeof req.headers[h] === 'string') context[h] = req.headers[h];
    try {
      const body = await readJson(req);
      if (cfg.workMs > 0) await sleep(1 + Math.random() * cfg.workMs);
      const ctx = {
        params: route.regex.exec(url.pathname)?.groups ?? {},
        query: url.searchParams,
        body,
        headers: req.headers,
        async call(service, path, opts = {}) {
          let r;
          try {
            r = await request({ url: serviceUrl(service) + path, method: opts.method, body: opts.body, context, timeoutMs: cfg.callTimeoutMs });
          } catch (err) {
            const timedOut = err.code === 'ETIMEDOUT';
            throw new HttpError(timedOut ? 504 : 502, `${service} ${timedOut ? 'timed out' : 'unreachable'}: ${err.message}`, { dependency: service });
          }
          if (r.status >= 500) throw new HttpError(502, `${service} failed with ${r.status}`, { dependency: service, cause: r.body });
          if (r.status >= 400 && !opts.allowClientErrors) throw new HttpError(r.status, `${service}: ${r.body?.error ?? r.status}`, { dependency: service });
          return r;
        },
      };
      const result = await route.handler(ctx);
      if (result !== null && typeof result === 'object' && 'body' in result && ('status' in result || 'headers' in result)) send(result.status ?? 200, result.body, result.headers);
      else send(200, result);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status >= 500) log('error', err.message, { method: req.method, path: url.pathname, status, ...(traceId ? { trace_id: traceId } : {}) });
      if (!res.headersSent) send(status, { error: err.message, service: cfg.service, ...(err instanceof HttpError ? err.details : {}) });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 65_000; // above the sidecar's idle pool timeout, so it closes first
  server.listen(cfg.port, cfg.host, () => {
    const { address, port } = server.address();
    log('info', `listening on ${address}:${port}${cfg.propagate ? '' : ' (drops trace context on outbound calls)'}`, { port });
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}
