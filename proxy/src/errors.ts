// Every error the proxy raises, with a stable code (ERR_PROXY_*) and, for failures of a request,
// the failure reason of wire/failure.ts that `rescue` turns into a response.
import { REASON_STATUS, type ProxyReason } from '@meshlet/wire';

/** Codes of errors about a request; each maps to one failure reason. */
export const REQUEST_ERROR_CODES = Object.freeze({
  connect_refused: 'ERR_PROXY_CONNECT_REFUSED',
  connect_timeout: 'ERR_PROXY_CONNECT_TIMEOUT',
  upstream_reset: 'ERR_PROXY_UPSTREAM_RESET',
  request_timeout: 'ERR_PROXY_REQUEST_TIMEOUT',
  no_endpoints: 'ERR_PROXY_NO_ENDPOINTS',
  circuit_open: 'ERR_PROXY_CIRCUIT_OPEN',
  retry_budget_exhausted: 'ERR_PROXY_RETRY_BUDGET_EXHAUSTED',
  rate_limited: 'ERR_PROXY_RATE_LIMITED',
  unknown_service: 'ERR_PROXY_UNKNOWN_SERVICE',
  denied: 'ERR_PROXY_DENIED',
  fault_injected: 'ERR_PROXY_FAULT_INJECTED',
  header_overflow: 'ERR_PROXY_HEADER_OVERFLOW',
  bad_request: 'ERR_PROXY_BAD_REQUEST',
} satisfies Record<ProxyReason, string>);

/** A request failed inside the mesh. `rescue` renders it as `x-meshlet-error: <reason>` plus a JSON body. */
export class MeshError extends Error {
  readonly code: string;
  readonly reason: ProxyReason;
  readonly status: number;
  /** Destination (outbound) or local service (inbound). */
  service: string | null;
  /** `host:port` of the endpoint involved, when one was picked. */
  endpoint: string | null;
  /** True when a fault rule made this failure on purpose. */
  faultInjected: boolean;

  constructor(reason: ProxyReason, message: string, options: { service?: string | null; endpoint?: string | null; status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = REQUEST_ERROR_CODES[reason];
    this.reason = reason;
    this.status = options.status ?? REASON_STATUS[reason];
    this.service = options.service ?? null;
    this.endpoint = options.endpoint ?? null;
    this.faultInjected = reason === 'fault_injected';
  }
}

/** A configuration that cannot be applied; `problems` lists every one, each with its path. */
export class ConfigError extends Error {
  readonly code = 'ERR_PROXY_CONFIG';
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid sidecar config from ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Bad command-line usage (unknown flag, malformed value). */
export class UsageError extends Error {
  readonly code = 'ERR_PROXY_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const CONNECT_REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const RESET = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_ABORTED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'HPE_INVALID_CONSTANT',
  'UND_ERR_INFO',
]);

/**
 * Maps an error from undici or a socket to the mesh failure it means. A MeshError passes through.
 * Parse errors of an upstream response count as `upstream_reset`: the connection is not reused.
 */
export function toMeshError(err: unknown, service: string | null, endpoint: string | null): MeshError {
  if (err instanceof MeshError) {
    err.service ??= service;
    err.endpoint ??= endpoint;
    return err;
  }
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const where = endpoint === null ? (service ?? 'upstream') : `${service ?? 'upstream'} at ${endpoint}`;
  if (typeof code === 'string') {
    if (CONNECT_REFUSED.has(code)) return new MeshError('connect_refused', `${where} refused the connection (${code})`, { service, endpoint, cause: err });
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
      return new MeshError('connect_timeout', `no connection to ${where} within the connect timeout`, { service, endpoint, cause: err });
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new MeshError('request_timeout', `${where} did not answer in time`, { service, endpoint, cause: err });
    }
    if (code === 'UND_ERR_HEADERS_OVERFLOW') {
      return new MeshError('upstream_reset', `${where} sent response headers over the size limit`, { service, endpoint, cause: err });
    }
    if (RESET.has(code) || code.startsWith('HPE_')) {
      return new MeshError('upstream_reset', `${where} closed or broke the connection before a complete response (${code}: ${message})`, { service, endpoint, cause: err });
    }
  }
  return new MeshError('upstream_reset', `request to ${where} failed: ${message}`, { service, endpoint, cause: err });
}
