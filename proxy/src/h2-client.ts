// The inbound sidecar's client for an app that speaks h2c (`appProtocol: h2c`, e.g. a gRPC server):
// one multiplexed node:http2 session per app, opened on first use and again after the app sent
// GOAWAY or the connection closed. It offers undici's `dispatch(options, handler)` contract, so
// `forward` (timeouts, aborts, streaming with backpressure, trailers) works the same for both kinds of app.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { addHeader } from './forward.ts';
import { isGrpcContentType } from './grpc.ts';
import type { HeaderMap } from './service.ts';

/** Request headers HTTP/2 forbids (RFC 9113 §8.2.2); `te` passes only as `trailers`. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'http2-settings']);

// node:http2 loads when the first request goes to an h2c app, not when the sidecar starts (nghttp2's
// constants, as node:http2 defines them, RFC 9113 §7).
const NGHTTP2_REFUSED_STREAM = 0x7;
const NGHTTP2_CANCEL = 0x8;

export interface H2AppClientOptions {
  connectTimeoutMs: number;
  /** Largest response header block accepted from the app. */
  maxHeaderBytes: number;
}

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Response headers without pseudo-headers, as undici hands them on (lower-case names). */
function plainHeaders(headers: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {};
  for (const name in headers) if (name.charCodeAt(0) !== 58 /* : */) out[name] = headers[name];
  return out;
}

export class H2AppClient {
  private readonly origin: string;
  private readonly options: H2AppClientOptions;
  private session: ClientHttp2Session | null = null;
  private closed = false;

  /** `address` is `host:port` of the app. */
  constructor(address: string, options: H2AppClientOptions) {
    this.origin = `http://${address}`;
    this.options = options;
  }

  /** The current session, or a new one when there is none or the app is going away. */
  private current(): ClientHttp2Session {
    const s = this.session;
    if (s !== null && !s.closed && !s.destroyed) return s;
    const session = process.getBuiltinModule('node:http2').connect(this.origin, { maxHeaderListPairs: 256, settings: { enablePush: false, maxHeaderListSize: this.options.maxHeaderBytes } });
    this.session = session;
    // An idle session does not keep the process alive (drain waits for requests, not connections).
    session.unref();
    const forget = (): void => {
      if (this.session === session) this.session = null;
    };
    // GOAWAY: streams in flight finish on this session; new ones open a new session.
    session.once('goaway', forget);
    session.once('close', forget);
    session.on('error', forget);
    if (!session.connecting) return session;
    const timer = setTimeout(() => session.destroy(coded(`no h2c connection to the app at ${this.origin} within ${this.options.connectTimeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT')), this.options.connectTimeoutMs);
    session.once('connect', () => clearTimeout(timer));
    session.once('close', () => clearTimeout(timer));
    return session;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    new H2Exchange(handler).start(this, options);
    return true;
  }

  /** Opens a stream for `headers` (throws when the session cannot take one). */
  open(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    if (this.closed) throw coded('the sidecar is shutting down', 'UND_ERR_CLOSED');
    return this.current().request(headers, { endStream });
  }

  get authority(): string {
    return this.origin.slice(7);
  }

  /** Closes the session gracefully (streams in flight finish). */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.session;
    this.session = null;
    if (s === null || s.destroyed) return;
    await new Promise<void>((resolve) => s.close(resolve));
  }
}

/** One request/response on the app's session, reported to an undici dispatch handler. */
class H2Exchange implements Dispatcher.DispatchController {
  private readonly handler: Dispatcher.DispatchHandler;
  private stream: ClientHttp2Stream | null = null;
  private finished = false;
  private started = false;
  private trailers: HeaderMap = {};
  aborted = false;
  paused = false;
  reason: Error | null = null;

  constructor(handler: Dispatcher.DispatchHandler) {
    this.handler = handler;
  }

  start(client: H2AppClient, options: Dispatcher.DispatchOptions): void {
    this.handler.onRequestStart?.(this, {});
    if (this.aborted) return;
    const headers = requestHeaders(options, client.authority);
    const body = options.body as Buffer | Readable | null | undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = client.open(headers, body === null || body === undefined);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.stream = stream;
    stream.on('response', (h: IncomingHttpHeaders) => {
      const status = Number(h[':status']);
      if (status < 200) return;
      this.started = true;
      this.handler.onResponseStart?.(this, status, plainHeaders(h), '');
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      this.trailers = plainHeaders(t);
    });
    stream.on('data', (chunk: Buffer) => {
      if (!this.finished) this.handler.onResponseData?.(this, chunk);
    });
    stream.on('end', () => {
      if (this.finished || !this.started) return;
      this.finished = true;
      this.handler.onResponseEnd?.(this, this.trailers);
    });
    stream.on('error', (err: Error) => this.fail(err));
    stream.on('close', () => {
      if (this.finished) return;
      const code = stream.rstCode;
      if (code === NGHTTP2_REFUSED_STREAM) this.fail(coded('the app refused the stream (REFUSED_STREAM)', 'ECONNRESET'));
      else this.fail(coded(`the app closed the stream before a complete response (HTTP/2 error code ${code ?? 'none'})`, 'ECONNRESET'));
    });
    if (body === null || body === undefined) return;
    if (Buffer.isBuffer(body)) {
      stream.end(body);
      return;
    }
    body.on('error', (err) => this.abort(err));
    body.pipe(stream);
  }

  private fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    const stream = this.stream;
    if (stream !== null && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    // A stream cancelled because its session failed carries the session's error (ECONNREFUSED, timeouts).
    const cause = (err as { code?: string; cause?: unknown }).code === 'ERR_HTTP2_STREAM_CANCEL' ? (err as { cause?: unknown }).cause : undefined;
    this.handler.onResponseError?.(this, cause instanceof Error ? cause : err);
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.fail(reason);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }
}

/** undici's flat `[name, value, ...]` request headers → an HTTP/2 header object with pseudo-headers. */
function requestHeaders(options: Dispatcher.DispatchOptions, fallbackAuthority: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': options.method, ':path': options.path, ':scheme': 'http' };
  const flat = options.headers as string[] | null | undefined;
  let authority: string | null = null;
  let grpc = false;
  if (Array.isArray(flat)) {
    for (let i = 0; i < flat.length; i += 2) {
      const name = (flat[i] as string).toLowerCase();
      const value = flat[i + 1] as string;
      if (name === 'host') authority ??= value;
      if (CONNECTION_SPECIFIC.has(name)) continue;
      if (name === 'content-type' && isGrpcContentType(value)) grpc = true;
      addHeader(out, name, value);
    }
  }
  out[':authority'] = authority ?? fallbackAuthority;
  // gRPC servers require `te: trailers` (PROTOCOL-HTTP2.md); it is the only TE HTTP/2 allows.
  if (grpc) out.te = 'trailers';
  return out;
}
