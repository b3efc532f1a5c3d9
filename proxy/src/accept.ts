// accept: the listener of one direction. Turns a node:http request into a ProxyRequest (origin-form
// path, authority, hop-by-hop headers removed, trace context and request id read), runs the stack,
// and writes the response with backpressure. Requests that node's parser rejects (malformed framing,
// header bytes over the limit) and requests over the header count limit are answered here with the
// mesh error body: 431 for too many or too large headers, never truncated. Plain listeners also speak
// h2c (HTTP/2 with prior knowledge, as gRPC uses) on the same port: the connection preface is sniffed
// on each accepted socket, and h2c sockets go to a node:http2 session whose requests (compatibility
// API) take the same path.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session, ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { CALLER_HEADER, isProxyReason, MESH_ERROR_HEADER, REASON_HINTS, REQUEST_ID_HEADER } from '@meshlet/wire';
import { MeshError } from './errors.ts';
import { encodeGrpcMessage, GRPC, grpcStatusOf, isGrpc } from './grpc.ts';
import { baggageRun, extractParent, parseTracestate } from './context.ts';
import { errorResponse } from './layers/rescue.ts';
import { responseHeaderList, responseHeaderObject } from './forward.ts';
import { peerSpiffe, serviceOfSpiffe, type serverTlsOptions } from './mtls.ts';
import { ResponseBody } from './response-body.ts';
import type { Direction, HeaderMap, IncomingRequest, ProxyRequest, ProxyResponse, Service } from './service.ts';

/** Request headers never forwarded: hop-by-hop (RFC 9110 §7.6.1), handled here, or re-emitted per hop. */
const DROP_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authorization',
  'expect',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  CALLER_HEADER,
]);

/** Connection header values that are only the connection's own option (already dropped above). */
const CONNECTION_PLAIN = new Set(['keep-alive', 'close', 'Keep-Alive', 'Close']);

const REQUEST_ID_OK = /^[\x21-\x7e]{1,200}$/;

export interface AcceptOptions {
  direction: Direction;
  service: Service;
  /** TLS server options (mTLS inbound), or null for plain HTTP. */
  tls: ReturnType<typeof serverTlsOptions> | null;
  maxHeaderBytes: number;
  maxHeaderCount: () => number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** True while draining: responses close their connection. */
  draining: () => boolean;
  /** Requests rejected before the stack (parse errors, limits), for metrics and logs. */
  onRejected: (direction: Direction, status: number, reason: 'bad_request' | 'header_overflow', detail: string) => void;
  /** Requests being handled now (incremented on arrival, decremented when the response closes). */
  active: { count: number };
  /** `Upgrade` requests (WebSocket): the caller passes the raw socket through. */
  onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** An h2c request arrived with trailers, which the HTTP/1.1 hop upstream cannot carry. */
  onTrailersDropped: (req: ProxyRequest, names: string[]) => void;
  /** An h2c session failed (malformed frames, flow-control violations): it is closed, the sidecar goes on. */
  onProtocolError: (direction: Direction, err: Error & { code?: string }) => void;
}

/** The result of splitting a request target into authority and origin-form path. */
export function splitTarget(url: string, host: string | undefined): { authority: string; path: string; absolute: boolean } | null {
  if (url.startsWith('/')) return { authority: host ?? '', path: url, absolute: false };
  const lower = url.slice(0, 8).toLowerCase();
  if (lower.startsWith('http://')) {
    const rest = url.slice(7);
    let end = rest.length;
    for (let i = 0; i < rest.length; i++) {
      const c = rest.charCodeAt(i);
      if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
        end = i;
        break;
      }
    }
    const authority = rest.slice(0, end);
    if (authority === '' || authority.includes('@')) return null;
    let path = rest.slice(end);
    if (path === '' || path.startsWith('?')) path = `/${path}`;
    return { authority, path, absolute: true };
  }
  if (url === '*') return { authority: host ?? '', path: '*', absolute: false };
  return null;
}

function rawResponse(status: number, body: Buffer, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push('connection: close', '', '');
  return lines.join('\r\n');
}

/** Writes a mesh error straight to a socket (before or instead of node's response machinery). */
export function writeRawError(socket: Socket, err: MeshError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const res = errorResponse(err, null);
  const body = res.body as Buffer;
  socket.end(rawResponse(res.status, body, res.headers as Record<string, string>) + body.toString());
}

/** The client connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4): how h2c is told apart. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One listener: the HTTP/1.1 server that listens, and the h2c sessions it handed over (plain listeners). */
export interface AcceptServer {
  readonly server: http.Server;
  /** h2c sessions open now. */
  readonly sessions: ReadonlySet<Http2Session>;
  /** Drain: GOAWAY on every h2c session (streams in flight finish); connections not yet classified are dropped. */
  goaway(): void;
  /** End of the drain: destroys the h2c sessions still open. */
  destroy(): void;
}

/** h2c server limits: streams per session, and the hard caps above which nghttp2 refuses a header block itself. */
const H2_MAX_CONCURRENT_STREAMS = 1000;
const H2_MAX_HEADER_PAIRS = 1024;

type Response = ServerResponse | Http2ServerResponse;

/** node:crypto's randomUUID, loaded by the first request that comes without a request id. */
let randomUUID: (() => string) | null = null;

export function createAcceptServer(options: AcceptOptions): AcceptServer {
  const { direction, service } = options;
  const httpOptions: http.ServerOptions = {
    maxHeaderSize: options.maxHeaderBytes,
    headersTimeout: options.headersTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Bodies may stream for a long time (1 GiB through a slow client); idle sockets are cut by timeouts below.
    requestTimeout: 0,
    // node checks headersTimeout on this interval (default 30 s), so keep it well under the timeout.
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(options.headersTimeoutMs / 4))),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  };
  // node:https (with node:tls and node:crypto) and node:http2 load only when a listener needs them: an
  // mTLS listener at once (so bad TLS material still fails the start), h2c on the first HTTP/2 preface.
  // A sidecar without mTLS that never sees h2c never loads them (proxy/README.md, "Start-up cost").
  const server: http.Server = options.tls === null ? http.createServer(httpOptions) : process.getBuiltinModule('node:https').createServer({ ...httpOptions, ...options.tls });
  // The count limit is enforced below with a 431: node's own limit silently drops the extra headers.
  server.maxHeadersCount = 0;

  const handle = (incoming: IncomingRequest, res: Response, expectsContinue: boolean): void => {
    const h2 = incoming.httpVersionMajor === 2;
    const raw = incoming.rawHeaders;
    let fields = raw.length / 2;
    if (h2) {
      // Pseudo-headers are not header lines; the byte limit counts as SETTINGS_MAX_HEADER_LIST_SIZE does.
      let bytes = 0;
      for (let i = 0; i < raw.length; i += 2) {
        if ((raw[i] as string).charCodeAt(0) === 58 /* : */) fields--;
        bytes += (raw[i] as string).length + (raw[i + 1] as string).length + 32;
      }
      if (bytes > options.maxHeaderBytes) {
        reject(incoming, res, new MeshError('header_overflow', `the request headers exceed ${options.maxHeaderBytes} bytes`));
        options.onRejected(direction, 431, 'header_overflow', 'header bytes');
        return;
      }
    }
    if (fields > options.maxHeaderCount()) {
      reject(incoming, res, new MeshError('header_overflow', `the request has ${fields} header lines; the limit is ${options.maxHeaderCount()}`));
      options.onRejected(direction, 431, 'header_overflow', 'header count');
      return;
    }
    const target = splitTarget(incoming.url ?? '', undefined);
    if (target === null) {
      reject(incoming, res, new MeshError('bad_request', `cannot proxy the request target ${JSON.stringify((incoming.url ?? '').slice(0, 100))}`));
      options.onRejected(direction, 400, 'bad_request', 'request target');
      return;
    }
    const te = incoming.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      // Only `chunked` is a framing both ends agree on; codings stacked in front of it (identity, gzip)
      // are how parsers have been made to disagree (RFC 9112 §6.1). Refuse rather than re-frame.
      reject(incoming, res, new MeshError('bad_request', `unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 100))}: only "chunked" is accepted`));
      options.onRejected(direction, 400, 'bad_request', 'transfer-encoding');
      return;
    }
    const connection = incoming.headers.connection;
    // `keep-alive` / `close` (what undici and most clients send on every request) name no other header.
    const connectionTokens = connection === undefined || CONNECTION_PLAIN.has(connection) ? null : new Set(connection.toLowerCase().split(',').map((t) => t.trim()));
    const headers: string[] = [];
    let host: string | undefined;
    let requestId: string | null = null;
    let peerService: string | null = null;
    let cookies: string[] | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      const lower = name.toLowerCase();
      if (lower === 'host') {
        if (host !== undefined) {
          reject(incoming, res, new MeshError('bad_request', 'the request has more than one Host header (RFC 9112 §3.2)'));
          options.onRejected(direction, 400, 'bad_request', 'duplicate host');
          return;
        }
        host = value;
        if (target.absolute) {
          // A proxy replaces Host with the authority of an absolute-form target (RFC 9112 §3.2.2).
          headers.push(name, target.authority);
          continue;
        }
        if (h2) continue; // re-added below from :authority
      } else if (h2 && (lower.charCodeAt(0) === 58 /* : */ || lower === 'cookie')) {
        // Pseudo-headers become the request line and Host; HTTP/2 may split cookies, HTTP/1.1 joins them (RFC 9113 §8.2.3).
        if (lower === 'cookie') (cookies ??= []).push(value);
        continue;
      } else if (DROP_REQUEST_HEADERS.has(lower) || (connectionTokens !== null && connectionTokens.has(lower))) {
        if (lower === CALLER_HEADER && direction === 'inbound') peerService = value;
        continue;
      } else if (lower === REQUEST_ID_HEADER) {
        if (requestId !== null || !REQUEST_ID_OK.test(value)) continue;
        requestId = value;
      }
      headers.push(name, value);
    }
    if (h2) {
      // RFC 9113 §8.3.1: :authority, else Host.
      const authority = (incoming as Http2ServerRequest).authority || host;
      if (authority === undefined || authority === '') {
        reject(incoming, res, new MeshError('bad_request', 'the HTTP/2 request has neither :authority nor Host'));
        options.onRejected(direction, 400, 'bad_request', 'no authority');
        return;
      }
      host = authority;
      headers.push('host', authority);
      if (cookies !== null) headers.push('cookie', cookies.join('; '));
    }
    let peerIdentity: string | null = null;
    if (options.tls !== null) {
      // Under mTLS the certificate names the caller; the caller header is not trusted.
      peerIdentity = peerSpiffe(incoming.socket as TLSSocket);
      peerService = peerIdentity === null ? null : serviceOfSpiffe(peerIdentity);
    }
    if (requestId === null) {
      requestId = (randomUUID ??= process.getBuiltinModule('node:crypto').randomUUID)();
      headers.push(REQUEST_ID_HEADER, requestId);
    }
    if (target.absolute && host === undefined) headers.push('host', target.authority);
    const lengthHeader = incoming.headers['content-length'];
    const contentLength = lengthHeader === undefined ? null : Number(lengthHeader);
    // HTTP/2 says "no body" with END_STREAM on the HEADERS frame, not with the headers.
    const hasBody = h2
      ? !(incoming as Http2ServerRequest).stream.endAfterHeaders
      : incoming.headers['transfer-encoding'] !== undefined || (contentLength !== null && contentLength > 0);
    let continued = !expectsContinue;
    const req: ProxyRequest = {
      direction,
      method: incoming.method ?? 'GET',
      path: target.path,
      authority: target.absolute ? target.authority : (host ?? ''),
      incomingHeaders: incoming.headers,
      grpc: isGrpc(incoming.headers),
      headers,
      incoming,
      body: hasBody ? incoming : null,
      contentLength,
      startMs: performance.now(),
      parent: extractParent(incoming.headers),
      tracestate: null,
      requestId,
      run: baggageRun(incoming.headers.baggage),
      peerService,
      peerIdentity,
      service: null,
      route: '/',
      span: null,
      deadlineMs: Infinity,
      attemptDeadlineMs: Infinity,
      aborted: false,
      onAbort: null,
      faultDelayed: false,
      sendContinue: expectsContinue
        ? () => {
            if (continued) return;
            continued = true;
            res.writeContinue();
          }
        : null,
      version: null,
      contextPropagated: null,
      endpoint: null,
      target: null,
      destination: null,
      routeConfig: null,
      attemptSpan: null,
      attempts: 0,
    };
    if (req.parent?.format === 'w3c') (req as { tracestate: string | null }).tracestate = parseTracestate(incoming.headers.tracestate);
    if (h2 && hasBody) {
      incoming.once('end', () => {
        // Request trailers cannot cross the HTTP/1.1 hop (undici sends none): say so instead of losing them silently.
        const names = Object.keys((incoming as Http2ServerRequest).trailers ?? {});
        if (names.length > 0) options.onTrailersDropped(req, names);
      });
    }
    options.active.count++;
    res.once('close', () => {
      options.active.count--;
      if (!res.writableFinished) {
        req.aborted = true;
        req.onAbort?.();
      }
    });
    service(req).then(
      (response) => (h2 ? respondH2(req, res as Http2ServerResponse, response) : respond(req, res as ServerResponse, response)),
      (err: unknown) => {
        // rescue is the outermost layer, so this is a bug: answer and keep the process alive.
        const response = errorResponse(err instanceof MeshError ? err : new MeshError('upstream_reset', String(err)), null, req.grpc);
        if (h2) respondH2(req, res as Http2ServerResponse, response);
        else respond(req, res as ServerResponse, response);
      },
    );
  };

  const respond = (req: ProxyRequest, res: ServerResponse, response: ProxyResponse): void => {
    const body = response.body;
    if (req.aborted || res.destroyed) {
      if (body instanceof ResponseBody) body.abort(new Error('client gone'));
      return;
    }
    // Draining, or a request body not read yet (the stack answered without needing it): close after this response.
    const close = options.draining() || (req.sendContinue !== null && req.body !== null && !Buffer.isBuffer(req.body) && !req.incoming.readableEnded);
    try {
      res.writeHead(response.status, responseHeaderList(response.headers, close ? 'close' : null));
    } catch (err) {
      // An upstream header node refuses to send (invalid characters): the upstream's fault.
      if (body instanceof ResponseBody) body.abort(err as Error);
      const fallback = errorResponse(new MeshError('upstream_reset', `the upstream sent a header that cannot be forwarded: ${(err as Error).message}`, { service: req.service, endpoint: req.endpoint }), req.span?.traceId ?? null);
      res.writeHead(fallback.status, fallback.headers as http.OutgoingHttpHeaders);
      res.end(fallback.body);
      return;
    }
    if (body === null) res.end();
    else if (Buffer.isBuffer(body)) res.end(body);
    else body.pipe(res);
  };

  /**
   * An h2c response. A response carrying `grpc-status` in its headers is gRPC's trailers-only form: its
   * headers go out on the frame that ends the stream. A gRPC request that failed in the mesh gets
   * status 200 with `grpc-status`/`grpc-message` (gRPC clients only read them with 200), keeping
   * `x-meshlet-error`; spans and metrics keep the mesh status (403, 503, 504...).
   */
  const respondH2 = (req: ProxyRequest, res: Http2ServerResponse, response: ProxyResponse): void => {
    const r = req.grpc && response.status !== 200 && typeof response.headers[MESH_ERROR_HEADER] === 'string' ? grpcFailure(response) : response;
    const body = r.body;
    if (req.aborted || res.stream.destroyed) {
      if (body instanceof ResponseBody) body.abort(new Error('client gone'));
      return;
    }
    try {
      writeHeadH2(res, r);
    } catch (err) {
      if (body instanceof ResponseBody) body.abort(err as Error);
      const fallback = errorResponse(new MeshError('upstream_reset', `the upstream sent a header that cannot be forwarded over HTTP/2: ${(err as Error).message}`, { service: req.service, endpoint: req.endpoint }), req.span?.traceId ?? null, req.grpc);
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      const r2 = req.grpc ? grpcFailure(fallback) : fallback;
      writeHeadH2(res, r2);
      endWith(res, r2.body);
      return;
    }
    if (body === null) res.end();
    else if (Buffer.isBuffer(body)) res.end(body);
    else body.pipe(res, true);
  };

  const reject = (incoming: IncomingRequest, res: Response, err: MeshError): void => {
    const grpc = isGrpc(incoming.headers);
    const response = errorResponse(err, null, grpc);
    if (incoming.httpVersionMajor === 2) {
      const r = grpc ? grpcFailure(response) : response;
      writeHeadH2(res as Http2ServerResponse, r);
      endWith(res, r.body);
      return;
    }
    response.headers.connection = 'close';
    (res as ServerResponse).writeHead(response.status, response.headers as http.OutgoingHttpHeaders);
    endWith(res, response.body);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res, false));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(417, { connection: 'close' });
    res.end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => options.onUpgrade(req, socket, head));
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    writeRawError(socket, new MeshError('bad_request', 'CONNECT tunnels are not supported by the meshlet sidecar'));
    options.onRejected(direction, 400, 'bad_request', 'connect');
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      writeRawError(socket, new MeshError('header_overflow', `the request headers exceed ${options.maxHeaderBytes} bytes`));
      options.onRejected(direction, 431, 'header_overflow', 'header bytes');
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') {
      // Slowloris: the headers did not arrive within headersTimeoutMs.
      socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    writeRawError(socket, new MeshError('bad_request', `malformed HTTP request (${err.code ?? 'parse error'}): ${err.message}`));
    options.onRejected(direction, 400, 'bad_request', err.code ?? 'parse error');
  });
  // h2c shares the plain listener; under mTLS the listener stays HTTP/1.1 (sidecars talk HTTP/1.1 to each other).
  const h2c = options.tls === null ? acceptH2c(server, options, handle) : null;
  return {
    server,
    sessions: h2c?.sessions ?? new Set(),
    goaway: () => h2c?.goaway(),
    destroy: () => h2c?.destroy(),
  };
}

/** Ends a response with a proxy-made body (a Buffer, or none). */
function endWith(res: Response, body: ProxyResponse['body']): void {
  if (Buffer.isBuffer(body)) res.end(body);
  else res.end();
}

/** Writes the head of an h2c response; trailers-only (`grpc-status` in the headers) waits for `end()`. */
function writeHeadH2(res: Http2ServerResponse, r: ProxyResponse): void {
  const headers = responseHeaderObject(r.headers);
  if (headers['grpc-status'] === undefined) {
    res.writeHead(r.status, headers);
    return;
  }
  res.statusCode = r.status;
  for (const name in headers) res.setHeader(name, headers[name] as string | string[]);
}

/**
 * A mesh failure (made here or by the remote sidecar: `x-meshlet-error`) as a gRPC client reads it: status
 * 200, trailers-only, `grpc-status` and `grpc-message` (from the remote sidecar, or derived from the reason).
 */
function grpcFailure(r: ProxyResponse): ProxyResponse {
  const reason = r.headers[MESH_ERROR_HEADER] as string;
  let status = r.headers['grpc-status'];
  let message = r.headers['grpc-message'];
  if (typeof status !== 'string') {
    status = String(isProxyReason(reason) ? grpcStatusOf(reason, r.status) : GRPC.UNKNOWN);
    message = encodeGrpcMessage(`meshlet ${reason}: ${r.status} from the mesh (${isProxyReason(reason) ? REASON_HINTS[reason] : 'see x-meshlet-error'})`);
  }
  if (r.body instanceof ResponseBody) r.body.discard();
  const headers: HeaderMap = { [MESH_ERROR_HEADER]: reason, 'content-type': 'application/grpc', 'grpc-status': status };
  if (typeof message === 'string') headers['grpc-message'] = message;
  return { ...r, status: 200, headers, body: null };
}

type Handle = (incoming: IncomingRequest, res: Response, expectsContinue: boolean) => void;

/**
 * h2c with prior knowledge on a plain listener: each accepted socket is read until its first bytes
 * either match the HTTP/2 preface (→ a node:http2 session, compatibility API, same handler) or differ
 * (→ node's HTTP/1.1 connection handling, with the bytes read so far). A socket that sends nothing
 * within the headers timeout is closed.
 */
function acceptH2c(server: http.Server, options: AcceptOptions, handle: Handle): { sessions: Set<Http2Session>; goaway(): void; destroy(): void } {
  const sessions = new Set<Http2Session>();
  const streams = new Map<Http2Session, number>();
  const pending = new Set<Socket>();
  let closing = false;
  /** The h2c server, made (and node:http2 loaded) when the first HTTP/2 preface arrives. */
  let h2Server: Http2Server | null = null;
  const h2c = (): Http2Server => {
    if (h2Server !== null) return h2Server;
    const h2 = process.getBuiltinModule('node:http2').createServer({
      // Hard caps above the limits handle() answers with 431, so that over-limit requests get a readable answer.
      maxHeaderListPairs: H2_MAX_HEADER_PAIRS,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: options.maxHeaderBytes * 2 + 4096, enablePush: false },
    });
    h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => handle(req, res, false));
    h2.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => handle(req, res, true));
    h2.on('stream', (stream: ServerHttp2Stream) => {
      // Stream errors (RST from the client, protocol errors) end that stream only.
      stream.on('error', () => {});
      const session = stream.session;
      if (session === undefined) return;
      streams.set(session, (streams.get(session) ?? 0) + 1);
      stream.once('close', () => streams.set(session, (streams.get(session) ?? 1) - 1));
    });
    h2.on('sessionError', () => {});
    h2.on('session', (session: Http2Session) => {
      sessions.add(session);
      streams.set(session, 0);
      session.on('error', (err: Error & { code?: string }) => options.onProtocolError(options.direction, err));
      session.on('frameError', () => {});
      session.once('close', () => {
        sessions.delete(session);
        streams.delete(session);
      });
      // Idle sessions close like idle HTTP/1.1 keep-alive connections; a session with streams open stays.
      session.setTimeout(options.keepAliveTimeoutMs, () => {
        if ((streams.get(session) ?? 0) === 0) session.close();
      });
      if (closing) session.close();
    });
    h2Server = h2;
    return h2;
  };

  const [h1] = server.listeners('connection') as ((socket: Socket) => void)[];
  if (h1 === undefined) throw new Error('acceptH2c: node:http registered no connection listener');
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    pending.add(socket);
    let seen: Buffer | null = null;
    const timer = setTimeout(() => socket.destroy(), options.headersTimeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      pending.delete(socket);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onError = (): void => {
      done();
      socket.destroy();
    };
    // Closed with nothing or only a part of the HTTP/2 preface: nothing to answer.
    const onEnd = onError;
    const onData = (chunk: Buffer): void => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const h2Preface = seen.compare(H2_PREFACE, 0, n, 0, n) === 0;
      if (h2Preface && seen.length < H2_PREFACE.length) return;
      done();
      if (h2Preface) {
        // node:http2 reads what is buffered on the socket before its own reads start.
        socket.pause();
        socket.unshift(seen);
        h2c().emit('connection', socket);
      } else {
        // node:http consumes the socket natively from now on; the bytes read so far go to its parser first.
        h1.call(server, socket);
        socket.emit('data', seen);
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
  return {
    sessions,
    goaway() {
      closing = true;
      for (const socket of pending) socket.destroy();
      for (const session of sessions) session.close();
    },
    destroy() {
      for (const session of sessions) session.destroy();
    },
  };
}
