// Settings of `meshlet collector` as a zod schema: what its flags, `MESHLET_COLLECTOR_*` variables and a
// `--config` file (JSON or YAML, same keys) may say. Durations and sizes accept the spec's quantities
// ("24h", "500ms", "1Gi") or plain numbers (ms, bytes).
import { z } from 'zod';
import { COLLECTOR_DEFAULT_DATA_DIR, COLLECTOR_HTTP_PORT, COLLECTOR_OTLP_PORT, LOOPBACK } from './ports.ts';
import { parseDurationMs, parseSizeBytes } from './quantities.ts';

const listen = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, { error: 'expected "HOST:PORT" (port 0 picks a free one)' });

const durationMs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s or 24h, got "${String(v)}"` });
    return z.NEVER;
  }
  return ms;
});

const sizeBytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseSizeBytes(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 512Mi or 2Gi, got "${String(v)}"` });
    return z.NEVER;
  }
  return bytes;
});

export const collectorConfigSchema = z.strictObject({
  /** OTLP/HTTP listener. */
  otlp: listen.default(`${LOOPBACK}:${COLLECTOR_OTLP_PORT}`),
  /** Query API, Jaeger API, metrics and UI listener. */
  http: listen.default(`${LOOPBACK}:${COLLECTOR_HTTP_PORT}`),
  /** Data directory (the SQLite database lives inside). */
  data: z.string().min(1).default(COLLECTOR_DEFAULT_DATA_DIR),
  /** Directory of the built UI; default: the repository's `ui/dist`. */
  ui: z.string().min(1).optional(),
  /** Traces and logs older than this are deleted. */
  retentionAge: durationMs.default(24 * 3_600_000), // 24 h
  /** The store is kept under this size (oldest data deleted first). */
  retentionSize: sizeBytes.default(1024 ** 3), // 1 GiB
  /** A trace is analysed once no span of it arrived for this long. */
  analysisQuiet: durationMs.default(2_000), // 2 s
  /** Forward everything received to another OTLP/HTTP endpoint (base URL), or null. */
  forward: z.url({ protocol: /^https?$/ }).nullable().default(null),
  /** Largest export request accepted, measured after decompression. */
  maxBody: sizeBytes.default(20 * 1024 ** 2), // 20 MiB
  /** Spans and log records waiting to be written beyond which exports get 503 + Retry-After. */
  maxQueue: z.coerce.number().int().positive().default(200_000),
  /** `full`: fsync every commit (survives power loss); `normal`: survives a crash of the collector only. */
  sync: z.enum(['full', 'normal']).default('full'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export type CollectorConfigInput = z.input<typeof collectorConfigSchema>;
export type CollectorConfig = z.output<typeof collectorConfigSchema>;

/** Option names, as flags (`--retention-age`) and env keys (`MESHLET_COLLECTOR_RETENTION_AGE`). */
export const COLLECTOR_OPTIONS = Object.keys(collectorConfigSchema.shape) as (keyof CollectorConfig)[];
