// Every error code of the runtime in one place. Expected failures are `RuntimeError`s that reach the
// user as one clear line (plus a hint); anything else is a bug and crashes with its stack.

export const ERROR_CODES = Object.freeze({
  /** The spec file is missing or invalid (every problem is listed, with lines). */
  spec: 'ERR_RUNTIME_SPEC',
  /** The operation needs root (netns, veth, iptables, cgroups, runc). */
  needsRoot: 'ERR_RUNTIME_NEEDS_ROOT',
  /** A required program (runc, ip, iptables) is missing. */
  missingTool: 'ERR_RUNTIME_MISSING_TOOL',
  /** The pod subnet or VIP range overlaps a route or address already on the host. */
  subnetClash: 'ERR_RUNTIME_SUBNET_CLASH',
  /** A bridge, namespace, interface or cgroup with our name exists and is not ours. */
  nameInUse: 'ERR_RUNTIME_NAME_IN_USE',
  /** A host port to publish (or the collector's) is already taken. */
  portInUse: 'ERR_RUNTIME_PORT_IN_USE',
  /** The pod subnet has no free address left. */
  ipamExhausted: 'ERR_RUNTIME_IPAM_EXHAUSTED',
  /** A system command failed (the step and its stderr are in the message). */
  exec: 'ERR_RUNTIME_EXEC',
  /** Applying a plan failed; what was done has been rolled back. */
  apply: 'ERR_RUNTIME_APPLY',
  /** No daemon answers on the control socket. */
  noDaemon: 'ERR_RUNTIME_NO_DAEMON',
  /** The named mesh, service or pod does not exist. */
  notFound: 'ERR_RUNTIME_NOT_FOUND',
  /** The request is malformed (bad CLI argument, bad API body). */
  badRequest: 'ERR_RUNTIME_BAD_REQUEST',
  /** The mesh is already up with a different network, or another daemon owns it. */
  conflict: 'ERR_RUNTIME_CONFLICT',
  /** A pod did not become ready in time. */
  timeout: 'ERR_RUNTIME_TIMEOUT',
  /** The feature is not supported by this build (e.g. images). */
  unsupported: 'ERR_RUNTIME_UNSUPPORTED',
});

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** HTTP status of each code on the control API. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  ERR_RUNTIME_SPEC: 400,
  ERR_RUNTIME_NEEDS_ROOT: 403,
  ERR_RUNTIME_MISSING_TOOL: 500,
  ERR_RUNTIME_SUBNET_CLASH: 409,
  ERR_RUNTIME_NAME_IN_USE: 409,
  ERR_RUNTIME_PORT_IN_USE: 409,
  ERR_RUNTIME_IPAM_EXHAUSTED: 409,
  ERR_RUNTIME_EXEC: 500,
  ERR_RUNTIME_APPLY: 500,
  ERR_RUNTIME_NO_DAEMON: 503,
  ERR_RUNTIME_NOT_FOUND: 404,
  ERR_RUNTIME_BAD_REQUEST: 400,
  ERR_RUNTIME_CONFLICT: 409,
  ERR_RUNTIME_TIMEOUT: 504,
  ERR_RUNTIME_UNSUPPORTED: 501,
});

/** An expected failure: `code` for programs, `message` (one line) and `hint` for people. */
export class RuntimeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Extra lines (e.g. every spec problem), printed after the message. */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { hint?: string; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RuntimeError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: readonly string[] } {
    return { code: this.code, message: this.message, ...(this.hint === undefined ? {} : { hint: this.hint }), ...(this.details.length === 0 ? {} : { details: this.details }) };
  }
}

/** Rebuilds a `RuntimeError` sent as JSON over the control API. */
export function runtimeErrorFromJSON(value: unknown): RuntimeError | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v['code'] !== 'string' || typeof v['message'] !== 'string' || !Object.values(ERROR_CODES).includes(v['code'] as ErrorCode)) return undefined;
  return new RuntimeError(v['code'] as ErrorCode, v['message'], {
    ...(typeof v['hint'] === 'string' ? { hint: v['hint'] } : {}),
    ...(Array.isArray(v['details']) ? { details: v['details'].map(String) } : {}),
  });
}

export const isRuntimeError = (err: unknown): err is RuntimeError => err instanceof RuntimeError;
