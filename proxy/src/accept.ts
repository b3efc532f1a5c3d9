// accept: the HTTP/1.1 listener of one direction. Turns a node:http request into a ProxyRequest
// (origin-form path, authority, hop-by-hop headers removed, trace context and request id read),
// runs the stack, and writes the response with backpressure. Requests that node's parser rejects
// (malformed framing, header bytes over the limit) and requests over the header count limit are
// answered here with the mesh error body: 431 for too many or too large headers, never truncated.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { CALLER_HEADER, REQUEST_ID_HEADER } from '@meshlet/wire';
import { MeshError } from './errors.ts';
import { baggageRun, extractParent, parseTracestate } from './context.ts';
import { errorResponse } from './layers/rescue.ts';
import { responseHeaderList } from './forward.ts';
import { peerSpiffe, serviceOfSpiffe, type serverTlsOptions } from './mtls.ts';
import { ResponseBody } from './response-body.ts';
import type { Direction, ProxyRequest, ProxyResponse, Service } from './service.ts';

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

export function createAcceptServer(options: AcceptOptions): http.Server {
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
  const server: http.Server = options.tls === null ? http.createServer(httpOptions) : https.createServer({ ...httpOptions, ...options.tls });
  // The count limit is enforced below with a 431: node's own limit silently drops the extra headers.
  server.maxHeadersCount = 0;

  const handle = (incoming: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const raw = incoming.rawHeaders;
    if (raw.length / 2 > options.maxHeaderCount()) {
      reject(res, new MeshError('header_overflow', `the request has ${raw.length / 2} header lines; the limit is ${options.maxHeaderCount()}`));
      options.onRejected(direction, 431, 'header_overflow', 'header count');
      return;
    }
    const target = splitTarget(incoming.url ?? '', undefined);
    if (target === null) {
      reject(res, new MeshError('bad_request', `cannot proxy the request target ${JSON.stringify((incoming.url ?? '').slice(0, 100))}`));
      options.onRejected(direction, 400, 'bad_request', 'request target');
      return;
    }
    const te = incoming.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      // Only `chunked` is a framing both ends agree on; codings stacked in front of it (identity, gzip)
      // are how parsers have been made to disagree (RFC 9112 §6.1). Refuse rather than re-frame.
      reject(res, new MeshError('bad_request', `unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 100))}: only "chunked" is accepted`));
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
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      const lower = name.toLowerCase();
      if (lower === 'host') {
        if (host !== undefined) {
          reject(res, new MeshError('bad_request', 'the request has more than one Host header (RFC 9112 §3.2)'));
          options.onRejected(direction, 400, 'bad_request', 'duplicate host');
          return;
        }
        host = value;
        if (target.absolute) {
          // A proxy replaces Host with the authority of an absolute-form target (RFC 9112 §3.2.2).
          headers.push(name, target.authority);
          continue;
        }
      } else if (DROP_REQUEST_HEADERS.has(lower) || (connectionTokens !== null && connectionTokens.has(lower))) {
        if (lower === CALLER_HEADER && direction === 'inbound') peerService = value;
        continue;
      } else if (lower === REQUEST_ID_HEADER) {
        if (requestId !== null || !REQUEST_ID_OK.test(value)) continue;
        requestId = value;
      }
      headers.push(name, value);
    }
    let peerIdentity: string | null = null;
    if (options.tls !== null) {
      // Under mTLS the certificate names the caller; the caller header is not trusted.
      peerIdentity = peerSpiffe(incoming.socket as TLSSocket);
      peerService = peerIdentity === null ? null : serviceOfSpiffe(peerIdentity);
    }
    if (requestId === null) {
      requestId = randomUUID();
      headers.push(REQUEST_ID_HEADER, requestId);
    }
    if (target.absolute && host === undefined) headers.push('host', target.authority);
    const lengthHeader = incoming.headers['content-length'];
    const contentLength = lengthHeader === undefined ? null : Number(lengthHeader);
    const hasBody = incoming.headers['transfer-encoding'] !== undefined || (contentLength !== null && contentLength > 0);
    let continued = !expectsContinue;
    const req: ProxyRequest = {
      direction,
      method: incoming.method ?? 'GET',
      path: target.path,
      authority: target.absolute ? target.authority : (host ?? ''),
      incomingHeaders: incoming.headers,
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
    options.active.count++;
    res.once('close', () => {
      options.active.count--;
      if (!res.writableFinished) {
        req.aborted = true;
        req.onAbort?.();
      }
    });
    service(req).then(
      (response) => respond(req, res, response),
      (err: unknown) => {
        // rescue is the outermost layer, so this is a bug: answer and keep the process alive.
        respond(req, res, errorResponse(err instanceof MeshError ? err : new MeshError('upstream_reset', String(err)), null));
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

  const reject = (res: ServerResponse, err: MeshError): void => {
    const response = errorResponse(err, null);
    response.headers.connection = 'close';
    res.writeHead(response.status, response.headers as http.OutgoingHttpHeaders);
    res.end(response.body);
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
  return server;
}
