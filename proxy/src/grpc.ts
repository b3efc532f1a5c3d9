// gRPC over the mesh: what the sidecar needs to know about gRPC requests (content-type
// `application/grpc*`, PROTOCOL-HTTP2.md in grpc/grpc). Proxy-made failures of a gRPC request carry
// `grpc-status` and `grpc-message` besides `x-meshlet-error`, so a gRPC client reports the mesh's
// reason instead of a protocol error; spans get the `rpc.*` attributes of the semantic conventions.
import type { ProxyReason } from '@meshlet/wire';
import type { HeaderMap } from './service.ts';

/** gRPC status codes used here (grpc/grpc doc/statuscodes.md). */
export const GRPC = Object.freeze({
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNKNOWN: 2,
});

/** What each proxy failure means to a gRPC client. */
const REASON_GRPC: Record<ProxyReason, number | null> = {
  connect_refused: GRPC.UNAVAILABLE,
  connect_timeout: GRPC.UNAVAILABLE,
  upstream_reset: GRPC.UNAVAILABLE,
  no_endpoints: GRPC.UNAVAILABLE,
  circuit_open: GRPC.UNAVAILABLE,
  retry_budget_exhausted: GRPC.UNAVAILABLE,
  request_timeout: GRPC.DEADLINE_EXCEEDED,
  rate_limited: GRPC.RESOURCE_EXHAUSTED,
  header_overflow: GRPC.RESOURCE_EXHAUSTED,
  unknown_service: GRPC.UNIMPLEMENTED,
  denied: GRPC.PERMISSION_DENIED,
  bad_request: GRPC.INTERNAL,
  // An injected abort follows its configured HTTP status.
  fault_injected: null,
};

/** gRPC's own mapping of HTTP statuses (doc/http-grpc-status-mapping.md). */
function grpcOfHttp(status: number): number {
  if (status === 400) return GRPC.INTERNAL;
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return GRPC.PERMISSION_DENIED;
  if (status === 404) return GRPC.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GRPC.UNAVAILABLE;
  return GRPC.UNKNOWN;
}

/** The gRPC status code for a proxy failure answered with HTTP `status`. */
export function grpcStatusOf(reason: ProxyReason, status: number): number {
  return REASON_GRPC[reason] ?? grpcOfHttp(status);
}

/** True for a gRPC (or gRPC-Web) content type: `application/grpc[+proto|+json|-web...]`, any case. */
export function isGrpcContentType(type: string): boolean {
  return type.length >= 16 && type.slice(0, 16).toLowerCase() === 'application/grpc';
}

/** True for gRPC (and gRPC-Web) requests, by their `content-type`. */
export function isGrpc(headers: HeaderMap): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && isGrpcContentType(type);
}

/**
 * `grpc-message` encoding: percent-encode everything outside printable ASCII and `%` itself (UTF-8
 * bytes), as the gRPC HTTP/2 protocol says.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `/package.Service/Method` → service and method, or null for a path that is not a gRPC method. */
export function rpcOfPath(path: string): { service: string; method: string } | null {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  const slash = p.indexOf('/', 1);
  if (!p.startsWith('/') || slash <= 1 || slash === p.length - 1 || p.indexOf('/', slash + 1) !== -1) return null;
  return { service: p.slice(1, slash), method: p.slice(slash + 1) };
}

/** The gRPC status a response reports: trailers first, then the headers of a trailers-only response. */
export function grpcStatusIn(headers: HeaderMap, trailers: HeaderMap | null): number | null {
  const value = trailers?.['grpc-status'] ?? headers['grpc-status'];
  if (typeof value !== 'string' || !/^\d{1,2}$/.test(value)) return null;
  return Number(value);
}
