// Parsing of the CLI's positional arguments (`scale svc=N`, `traffic svc blue=10`, `--since 10m`). Pure.
// The light entry points of wire: the CLI starts without loading zod and the spec schemas.
import { parseDurationMs } from '@meshlet/wire/quantities';
import { ERROR_CODES, RuntimeError } from './errors.ts';

/** `orders=3` or `catalog/green=2` → scale requests. */
export function parseScaleArgs(args: readonly string[]): { service: string; version: string | undefined; replicas: number }[] {
  if (args.length === 0) throw new RuntimeError(ERROR_CODES.badRequest, 'scale needs at least one SERVICE=N (e.g. meshlet scale orders=3)');
  return args.map((arg) => {
    const m = /^([a-z][a-z0-9-]*)(?:\/([a-z][a-z0-9-]*))?=(\d+)$/.exec(arg);
    if (m === null) throw new RuntimeError(ERROR_CODES.badRequest, `expected SERVICE=N or SERVICE/VERSION=N, got "${arg}"`);
    return { service: m[1] as string, version: m[2], replicas: Number(m[3]) };
  });
}

/** `blue=10 green=90` → weights. */
export function parseWeights(args: readonly string[]): Record<string, number> {
  if (args.length === 0) throw new RuntimeError(ERROR_CODES.badRequest, 'traffic needs VERSION=WEIGHT pairs (e.g. meshlet traffic catalog blue=90 green=10)');
  const out: Record<string, number> = {};
  for (const arg of args) {
    const m = /^([a-z][a-z0-9-]*)=(\d+)%?$/.exec(arg);
    if (m === null) throw new RuntimeError(ERROR_CODES.badRequest, `expected VERSION=WEIGHT, got "${arg}"`);
    if (out[m[1] as string] !== undefined) throw new RuntimeError(ERROR_CODES.badRequest, `version ${m[1]} given twice`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** `on|off|true|false|enable|disable` → boolean. */
export function parseSwitch(arg: string): boolean {
  if (/^(on|true|enable|enabled|1)$/i.test(arg)) return true;
  if (/^(off|false|disable|disabled|0)$/i.test(arg)) return false;
  throw new RuntimeError(ERROR_CODES.badRequest, `expected on or off, got "${arg}"`);
}

/** `--since`: a duration ago (`10m`, `1h30m`) or a timestamp (RFC 3339 / ISO 8601). → epoch ms. */
export function parseSince(value: string, nowMs: number): number {
  const ms = /^\d/.test(value) && !/^\d{4}-/.test(value) ? parseDurationMs(value) : undefined;
  if (ms !== undefined) return nowMs - ms;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new RuntimeError(ERROR_CODES.badRequest, `--since expects a duration such as 10m or a time such as 2024-05-01T10:00:00Z, got "${value}"`);
  return t;
}

/** `--timeout 90s` → ms. */
export function parseTimeout(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0) throw new RuntimeError(ERROR_CODES.badRequest, `--timeout expects a duration such as 90s, got "${value}"`);
  return ms;
}
