// forward: sends a request to `req.target` with undici's dispatch and answers with the upstream's
// status and headers as soon as they arrive; the body streams on through a ResponseBody with
// backpressure. Hop-by-hop headers are removed both ways (RFC 9110 §7.6.1); framing is recomputed
// by undici (upstream) and node:http (client). A client that goes away aborts the upstream request.
import type { Dispatcher } from 'undici';
import { MeshError, toMeshError } from './errors.ts';
import { formatTraceparent } from './context.ts';
import { ResponseBody } from './response-body.ts';
import type { HeaderMap, ProxyRequest, ProxyResponse, Service } from './service.ts';

/** Response headers never passed on (hop-by-hop, RFC 9110 §7.6.1; `keep-alive` and `proxy-connection` by practice). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'proxy-authenticate']);

/**
 * The response headers to send to the client as a flat `[name, value, ...]` list (what node's
 * writeHead takes without re-validating an object), hop-by-hop headers and those the `Connection`
 * header names left out. Building a list avoids `delete`, which would slow every later header access.
 */
export function responseHeaderList(headers: HeaderMap, extra: string | null): string[] {
  const out: string[] = [];
  const connection = headers.connection;
  const named = typeof connection === 'string' && connection !== 'close' && connection !== 'keep-alive' ? new Set(connection.toLowerCase().split(',').map((t) => t.trim())) : null;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (extra !== null) out.push('connection', extra);
  return out;
}

/**
 * The response headers for an HTTP/2 client, as an object (repeated fields as arrays): hop-by-hop and
 * connection-specific headers left out, which HTTP/2 forbids (RFC 9113 §8.2.2).
 */
export function responseHeaderObject(headers: HeaderMap): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const list = responseHeaderList(headers, null);
  for (let i = 0; i < list.length; i += 2) addHeader(out, (list[i] as string).toLowerCase(), list[i + 1] as string);
  return out;
}

/** Adds a field to a node:http2 header object: a repeated name becomes an array of its values, in order. */
export function addHeader(out: Record<string, string | string[] | number | undefined>, name: string, value: string): void {
  const seen = out[name];
  if (seen === undefined) out[name] = value;
  else if (Array.isArray(seen)) seen.push(value);
  else out[name] = [String(seen), value];
}

class ForwardHandler implements Dispatcher.DispatchHandler {
  private readonly req: ProxyRequest;
  private readonly resolve: (res: ProxyResponse) => void;
  private readonly reject: (err: Error) => void;
  private body: ResponseBody | null = null;
  private controller: Dispatcher.DispatchController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timedOut: MeshError | null = null;

  constructor(req: ProxyRequest, resolve: (res: ProxyResponse) => void, reject: (err: Error) => void) {
    this.req = req;
    this.resolve = resolve;
    this.reject = reject;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut !== null) controller.abort(this.timedOut);
    else if (this.req.aborted) controller.abort(clientGone());
    else this.req.onAbort = () => this.abort();
  }

  /**
   * No response headers within `ms`: the attempt fails with `request_timeout` and the upstream request
   * is cancelled. (undici's own headersTimeout runs on coarse timers, too late for short per-try timeouts.)
   */
  armTimeout(ms: number): void {
    this.timer = setTimeout(() => {
      const req = this.req;
      this.timedOut = new MeshError('request_timeout', `no response from ${req.service ?? 'upstream'} within ${ms} ms`, { service: req.service, endpoint: req.target?.address ?? null });
      this.controller?.abort(this.timedOut);
    }, ms);
  }

  private abort(): void {
    const err = clientGone();
    if (this.body !== null) this.body.abort(err);
    else this.controller?.abort(err);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: HeaderMap): void {
    if (statusCode < 200) return; // 1xx informational: the proxy answers 100-continue itself
    if (this.timer !== null) clearTimeout(this.timer);
    const body = new ResponseBody(controller);
    this.body = body;
    const req = this.req;
    this.resolve({
      status: statusCode,
      headers,
      body,
      reason: null,
      origin: null,
      endpoint: req.target?.address ?? null,
      faultInjected: false,
    });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body?.push(chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: HeaderMap): void {
    this.body?.end(trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.body !== null) this.body.fail(error);
    else this.reject(toMeshError(error, this.req.service, this.req.target?.address ?? null));
  }
}

function clientGone(): MeshError {
  return new MeshError('upstream_reset', 'the client closed the connection before the response was complete');
}

/**
 * The innermost service: sends `req` to `req.target`. Adds the hop's trace headers (the attempt span
 * on outbound, the SERVER span on inbound) and `extraHeaders` (e.g. the caller's service name).
 */
export function forward(extraHeaders: readonly string[] = []): Service {
  return (req) =>
    new Promise<ProxyResponse>((resolve, reject) => {
      const target = req.target;
      if (target === null) throw new Error('forward: no target chosen (balance must run first)');
      let timeoutMs = 0;
      const deadline = Math.min(req.deadlineMs, req.attemptDeadlineMs);
      if (deadline !== Infinity) {
        timeoutMs = Math.ceil(deadline - performance.now());
        if (timeoutMs <= 0) {
          reject(new MeshError('request_timeout', `no response from ${req.service ?? 'upstream'} within the timeout`, { service: req.service, endpoint: target.address }));
          return;
        }
      }
      const span = req.attemptSpan ?? req.span;
      const headers = req.headers.concat(extraHeaders);
      if (span !== null) {
        headers.push('traceparent', formatTraceparent(span.traceId, span.spanId, span.sampled));
        if (req.tracestate !== null) headers.push('tracestate', req.tracestate);
      }
      const body = req.body;
      if (body !== null && req.sendContinue !== null && !Buffer.isBuffer(body)) req.sendContinue();
      const handler = new ForwardHandler(req, resolve, reject);
      if (timeoutMs > 0) handler.armTimeout(timeoutMs);
      target.pool.dispatch(
        {
          path: req.path,
          method: req.method,
          headers,
          body,
          // Idempotency decides retries here (the retry layer), never inside undici.
          idempotent: false,
          blocking: true,
        },
        handler,
      );
    });
}
