// The ports, addresses and names of DESIGN.md's table, as constants every part imports.

/** Sidecar admin listener: `/ready`, `/live`, `/metrics`, `/config`, `POST /shutdown`. */
export const SIDECAR_ADMIN_PORT = 15000;
/** Sidecar outbound listener (app → mesh); pod iptables redirect VIP traffic here. */
export const SIDECAR_OUTBOUND_PORT = 15001;
/** Sidecar inbound listener (mesh → app); pod iptables redirect the app port here. */
export const SIDECAR_INBOUND_PORT = 15006;
/** Runtime's read-only config API for sidecars, served on the bridge address. */
export const RUNTIME_CONFIG_PORT = 15010;
/** Runtime control API for the CLI: a unix socket, mode 0660, never TCP. */
export const RUNTIME_CONTROL_SOCKET = '/run/meshlet/meshlet.sock';
/** Where the runtime keeps per-mesh state: `<dir>/<mesh>/`. */
export const RUNTIME_STATE_DIR = '/run/meshlet';
/** Collector OTLP/HTTP listener (`/v1/traces`, `/v1/logs`). */
export const COLLECTOR_OTLP_PORT = 4318;
/** Collector query API, Jaeger-compatible API and UI. */
export const COLLECTOR_HTTP_PORT = 16686;
/** Default collector data directory, relative to the working directory. */
export const COLLECTOR_DEFAULT_DATA_DIR = './.meshlet';

/** Default bridge name. Linux limits interface names to 15 bytes. */
export const DEFAULT_BRIDGE = 'meshlet0';
/** Default pod subnet; the bridge takes the first host address. */
export const DEFAULT_POD_SUBNET = '10.77.0.0/16';
/** Default service VIP range; the host gets an `unreachable` route for it. */
export const DEFAULT_VIP_RANGE = '10.78.0.0/16';
/** Default mesh name (state dir, SPIFFE trust domain). */
export const DEFAULT_MESH_NAME = 'meshlet';

/** Header on every response the proxy made itself (not the app): the failure reason. */
export const MESH_ERROR_HEADER = 'x-meshlet-error';
/** Request id header the sidecar generates when absent and forwards. */
export const REQUEST_ID_HEADER = 'x-request-id';
/**
 * Header an outbound sidecar adds with its own service name, so the callee's inbound sidecar knows the
 * caller without mTLS (metrics `source`, `meshlet.peer.service` on the SERVER span, policy). Under mTLS the
 * certificate's SPIFFE id decides; the header is removed before the app sees the request.
 */
export const CALLER_HEADER = 'x-meshlet-caller';
/** Header that asks a sidecar in test mode to inject a fault (see `parseFaultHeader`). */
export const FAULT_HEADER = 'x-meshlet-fault';

/** Prefix of every Prometheus metric meshlet exposes. */
export const METRIC_PREFIX = 'meshlet_';
/** Prefix of environment variables: `MESHLET_<PART>_<KEY>`, e.g. `MESHLET_PROXY_SERVICE`. */
export const ENV_PREFIX = 'MESHLET_';

/** The hosts named in the table, on loopback, for standalone use. */
export const LOOPBACK = '127.0.0.1';

/**
 * Builds the environment variable name for a part's setting.
 * @example envName('proxy', 'admin') // 'MESHLET_PROXY_ADMIN'
 */
export function envName(part: string, key: string): string {
  return `${ENV_PREFIX}${part}_${key}`.toUpperCase().replaceAll('-', '_');
}
