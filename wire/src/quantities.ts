// Parsing of human quantities in spec files: durations ("250ms", "2s") and sizes ("128Mi", "1g").

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  us: 0.001,
  µs: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration into milliseconds. A bare number is milliseconds; a string needs a unit
 * (`us`, `ms`, `s`, `m`, `h`); compound forms such as `1m30s` are accepted.
 * Returns `undefined` when the text is not a duration.
 * @example parseDurationMs('1.5s') // 1500
 */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const part = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2] as string] as number);
    index = part.lastIndex;
  }
  return total;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a size into bytes. Accepts Kubernetes suffixes (`Ki`, `Mi`, `Gi`), SI suffixes (`KB`, `MB`, `GB`)
 * and Docker's single letters (`k`, `m`, `g`, binary like `docker run -m`). A bare number is bytes.
 * Returns `undefined` when the text is not a size.
 * @example parseSizeBytes('128Mi') // 134217728
 */
export function parseSizeBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (match === null) return undefined;
  const unit = SIZE_UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}

/**
 * Formats milliseconds the way spec files write them.
 * @example formatDurationMs(1500) // '1.5s'
 */
export function formatDurationMs(ms: number): string {
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
