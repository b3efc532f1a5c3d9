// The mesh spec: the one YAML file a user writes (compose-like), as a zod schema and its normalised type.
// Keys are snake_case in YAML (compose habits: depends_on, working_dir); the parsed value is camelCase
// with durations in milliseconds and sizes in bytes. Checks across fields (references, cycles, clashes)
// live in spec-checks.ts; parsing with line numbers in spec-parse.ts.
import { z } from 'zod';
import { PROXY_REASONS } from './failure.ts';
import { parseDurationMs, parseSizeBytes } from './quantities.ts';
import { DEFAULT_BRIDGE, DEFAULT_MESH_NAME, DEFAULT_POD_SUBNET, DEFAULT_VIP_RANGE } from './ports.ts';
import { NAME_PATTERN } from './names.ts';

export { NAME_PATTERN };

const name = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: `expected a ${what} name: lowercase letters, digits and '-', starting with a letter, at most 40 characters`,
  });

/** A duration: `250ms`, `2s`, `1m30s`, or a number of milliseconds. Parsed to milliseconds. */
export const durationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `expected a duration such as "500ms" or "2s", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A size: `128Mi`, `1g`, `10MB`, or a number of bytes. Parsed to bytes. */
export const sizeBytes = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSizeBytes(value);
  if (bytes === undefined) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `expected a size such as "128Mi" or "1g", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return bytes;
});

const port = z.number().int().min(1).max(65535);
const percent = z.number().min(0).max(100);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An IPv4 CIDR such as `10.77.0.0/16`. */
export const cidr = z.string().refine(
  (value) => {
    const [ip, bits, ...rest] = value.split('/');
    return rest.length === 0 && ip !== undefined && IPV4.test(ip) && bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= 30;
  },
  { error: 'expected an IPv4 CIDR such as "10.77.0.0/16" (prefix at most /30)' },
);

/** A command: an argv list, or a string split on whitespace (no shell is involved). */
const command = z
  .union([z.array(z.string().min(1)).min(1), z.string().min(1)])
  .transform((value) => (typeof value === 'string' ? value.trim().split(/\s+/) : value));

/** Env as a map (`KEY: value`) or a compose-style list (`KEY=value`); values become strings. */
const env = z
  .union([
    z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }), z.union([z.string(), z.number(), z.boolean()])),
    z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/, { error: 'expected "KEY=value"' })),
  ])
  .transform((value): Record<string, string> => {
    if (Array.isArray(value)) {
      return Object.fromEntries(value.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
    }
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, String(v)]));
  });

const resources = z
  .strictObject({
    cpus: z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/)]).transform(Number).pipe(z.number().gt(0).max(1024)).optional(),
    memory: sizeBytes.pipe(z.number().min(4 * 1024 * 1024, { error: 'memory below 4 MiB cannot run a process' })).optional(),
    pids: z.number().int().min(1).optional(),
  })
  .transform((r) => ({ cpus: r.cpus, memoryBytes: r.memory, pids: r.pids }));

const health = z
  .strictObject({
    http: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).optional(),
    command: command.optional(),
    interval: durationMs.default(5000), // 5 s
    timeout: durationMs.default(2000), // 2 s
    retries: z.number().int().min(1).default(3),
    start_period: durationMs.default(0),
    restart: z.boolean().default(true),
  })
  .refine((h) => (h.http === undefined) !== (h.command === undefined), {
    error: 'set exactly one of health.http or health.command',
  })
  .transform((h) => ({
    http: h.http,
    command: h.command,
    intervalMs: h.interval,
    timeoutMs: h.timeout,
    retries: h.retries,
    startPeriodMs: h.start_period,
    /** Restart the container when it turns unhealthy (Docker does not; meshlet does by default). */
    restartOnUnhealthy: h.restart,
  }));

/** `no | always | unless-stopped | on-failure | on-failure:N`. */
const restart = z
  .string()
  .regex(/^(no|always|unless-stopped|on-failure(:[1-9]\d*)?)$/, {
    error: 'expected one of "no", "always", "unless-stopped", "on-failure" or "on-failure:N"',
  })
  .transform((value) => {
    const [policy, max] = value.split(':') as [string, string | undefined];
    return {
      policy: (policy === 'unless-stopped' ? 'always' : policy) as 'no' | 'always' | 'on-failure',
      maxRetries: max === undefined ? undefined : Number(max),
    };
  });

const dependsOn = z
  .union([
    z.array(name('service')),
    z.record(name('service'), z.strictObject({ condition: z.enum(['started', 'healthy']).default('started') })),
  ])
  .transform((value): Record<string, 'started' | 'healthy'> =>
    Array.isArray(value)
      ? Object.fromEntries(value.map((svc) => [svc, 'started' as const]))
      : Object.fromEntries(Object.entries(value).map(([svc, d]) => [svc, d.condition])),
  );

/** `"8080"`, `"9000:8080"` or `"127.0.0.1:9000:8080"` (host ip : host port : service port). */
export const publishSchema = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const parts = String(value).split(':');
    const match = parts.length <= 3 && parts.every((p, i) => (i === 0 && parts.length === 3 ? IPV4.test(p) : /^\d{1,5}$/.test(p)));
    const numbers = parts.slice(parts.length === 3 ? 1 : 0).map(Number);
    if (!match || numbers.some((n) => n < 1 || n > 65535)) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `expected "HOST_PORT:PORT", "PORT" or "IP:HOST_PORT:PORT", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    const hostPort = numbers[0] as number;
    return {
      hostIp: parts.length === 3 ? (parts[0] as string) : '0.0.0.0',
      hostPort,
      containerPort: numbers[1] ?? hostPort,
    };
  });

const match = z
  .strictObject({
    path: z.string().startsWith('/').optional(),
    path_prefix: z.string().startsWith('/').optional(),
    method: z.string().regex(/^[A-Z]+$/, { error: 'expected an upper-case HTTP method' }).optional(),
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'expected a header name' }), z.string()).optional(),
  })
  .transform((m) => ({
    path: m.path,
    pathPrefix: m.path_prefix,
    method: m.method,
    headers: m.headers === undefined ? undefined : Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), v])),
  }));

const weights = z.record(name('version'), z.number().int().min(0).max(10_000));

const retries = z
  .strictObject({
    attempts: z.number().int().min(1).max(10).default(2),
    per_try_timeout: durationMs.optional(),
    on: z.array(z.enum(PROXY_REASONS).or(z.literal('app_error'))).optional(),
    /** Allow retrying non-idempotent methods on this route. */
    retryable: z.boolean().default(false),
  })
  .transform((r) => ({ attempts: r.attempts, perTryTimeoutMs: r.per_try_timeout, retryOn: r.on, retryNonIdempotent: r.retryable }));

const fault = z
  .strictObject({
    name: z.string().optional(),
    match: match.optional(),
    enabled: z.boolean().default(true),
    delay: z.strictObject({ duration: durationMs, percent: percent.default(100) }).optional(),
    abort: z.strictObject({ status: z.number().int().min(200).max(599).default(503), percent: percent.default(100) }).optional(),
  })
  .refine((f) => f.delay !== undefined || f.abort !== undefined, { error: 'a fault needs a delay, an abort, or both' })
  .transform((f) => ({
    name: f.name,
    match: f.match,
    enabled: f.enabled,
    delay: f.delay === undefined ? undefined : { ms: f.delay.duration, percent: f.delay.percent },
    abort: f.abort,
  }));

const route = z
  .strictObject({
    name: z.string().optional(),
    match: match.prefault({}),
    timeout: durationMs.optional(),
    retries: retries.optional(),
    traffic: weights.optional(),
  })
  .transform((r) => ({ name: r.name, match: r.match, timeoutMs: r.timeout, retries: r.retries, traffic: r.traffic }));

const outlier = z
  .strictObject({
    consecutive_failures: z.number().int().min(1).default(5),
    base_ejection: durationMs.default(30_000), // 30 s
    max_ejection_percent: percent.default(50),
  })
  .transform((o) => ({ consecutiveFailures: o.consecutive_failures, baseEjectionMs: o.base_ejection, maxEjectionPercent: o.max_ejection_percent }));

const policy = z
  .strictObject({
    allow: z.array(name('service')).optional(),
    deny: z.array(name('service')).default([]),
    rate_limit: z.strictObject({ rps: z.number().gt(0), burst: z.number().int().min(1).optional() }).optional(),
  })
  .transform((p) => ({
    allow: p.allow,
    deny: p.deny,
    rateLimit: p.rate_limit === undefined ? undefined : { rps: p.rate_limit.rps, burst: p.rate_limit.burst ?? Math.ceil(p.rate_limit.rps) },
  }));

const version = z
  .strictObject({
    image: z.string().min(1).optional(),
    command: command.optional(),
    working_dir: z.string().optional(),
    env: env.optional(),
    replicas: z.number().int().min(0).optional(),
  })
  .transform((v) => ({ image: v.image, command: v.command, workingDir: v.working_dir, env: v.env, replicas: v.replicas }));

const service = z
  .strictObject({
    image: z.string().min(1).optional(),
    command: command.optional(),
    working_dir: z.string().optional(),
    port: port.optional(),
    /** How the service's app speaks on `port`: `http` (HTTP/1.1) or `h2c` (HTTP/2 cleartext, e.g. a gRPC server). */
    protocol: z.enum(['http', 'h2c']).default('http'),
    replicas: z.number().int().min(0).max(64).default(1),
    env: env.prefault({}),
    resources: resources.optional(),
    health: health.optional(),
    restart: restart.prefault('no'),
    depends_on: dependsOn.prefault({}),
    publish: z.array(publishSchema).default([]),
    versions: z.record(name('version'), version).optional(),
    traffic: weights.optional(),
    routes: z.array(route).default([]),
    faults: z.array(fault).default([]),
    timeout: durationMs.optional(),
    retries: retries.optional(),
    outlier: outlier.optional(),
    policy: policy.optional(),
    /** Marks a variant that drops trace headers; used by demos of the "does not propagate context" finding. */
    labels: z.record(z.string(), z.string()).default({}),
  })
  .transform((s) => ({
    image: s.image,
    command: s.command,
    workingDir: s.working_dir,
    port: s.port,
    protocol: s.protocol,
    replicas: s.replicas,
    env: s.env,
    resources: s.resources,
    health: s.health,
    restart: s.restart,
    dependsOn: s.depends_on,
    publish: s.publish,
    versions: s.versions,
    traffic: s.traffic,
    routes: s.routes,
    faults: s.faults,
    timeoutMs: s.timeout,
    retries: s.retries,
    outlier: s.outlier,
    policy: s.policy,
    labels: s.labels,
  }));

const network = z
  .strictObject({
    bridge: z.string().regex(/^[a-zA-Z0-9_.-]{1,15}$/, { error: 'expected an interface name of at most 15 characters' }).default(DEFAULT_BRIDGE),
    subnet: cidr.default(DEFAULT_POD_SUBNET),
    vip_range: cidr.default(DEFAULT_VIP_RANGE),
    egress: z.enum(['none', 'nat']).default('none'),
  })
  .transform((n) => ({ bridge: n.bridge, subnet: n.subnet, vipRange: n.vip_range, egress: n.egress }));

const telemetry = z
  .strictObject({
    /** `auto` runs meshlet's own collector; a URL sends OTLP/HTTP to an existing one. */
    collector: z.union([z.literal('auto'), z.literal('none'), z.url({ protocol: /^https?$/ })]).default('auto'),
    /** Where the collector's API and UI listen when `collector: auto`. */
    ui: z.string().regex(/^[^:]+:\d{1,5}$/, { error: 'expected "HOST:PORT"' }).default('127.0.0.1:16686'),
  })
  .transform((t) => ({ collector: t.collector, ui: t.ui }));

/** The YAML document: every field of DESIGN.md's Runtime section. Use `validateMeshSpec`, which adds the cross-field checks. */
export const meshSpecSchema = z
  .strictObject({
    name: name('mesh').default(DEFAULT_MESH_NAME),
    network: network.prefault({}),
    telemetry: telemetry.prefault({}),
    /** mTLS between sidecars with SPIFFE identities issued by the runtime's CA. */
    mtls: z.boolean().default(false),
    /** Lets requests ask for faults with the `x-meshlet-fault` header. Never on in production. */
    test_mode: z.boolean().default(false),
    services: z.record(name('service'), service).refine((s) => Object.keys(s).length > 0, { error: 'define at least one service' }),
  })
  .transform((s) => ({ name: s.name, network: s.network, telemetry: s.telemetry, mtls: s.mtls, testMode: s.test_mode, services: s.services }));

/** A parsed, normalised mesh spec (camelCase, milliseconds, bytes). */
export type MeshSpec = z.output<typeof meshSpecSchema>;
/** One service of a parsed spec. */
export type ServiceSpec = MeshSpec['services'][string];
/** One route of a service. */
export type RouteSpec = ServiceSpec['routes'][number];
/** One fault rule of a service. */
export type FaultSpec = ServiceSpec['faults'][number];
/** What a user may write (snake_case, strings for quantities). */
export type MeshSpecInput = z.input<typeof meshSpecSchema>;
