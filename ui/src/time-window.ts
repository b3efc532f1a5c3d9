// The time window every view shares, kept in the URL: `?lookback=15m` (relative, the default) or
// `?from=<ISO>&to=<ISO>` (absolute), plus `run=<id>` to restrict to one load-test run.

/** The window the collector's live stream reports on (query-api.ts: default 15 min). */
export const DEFAULT_LOOKBACK = '15m';
export const LOOKBACK_CHOICES = ['5m', '15m', '1h', '6h', '24h', '7d'] as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `15m` → 900000; undefined when the text is not `<n><s|m|h|d>`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_MS[match[2]!]!;
  const ms = Number(match[1]) * unit;
  return ms > 0 ? ms : undefined;
}

/** A time given as ms since the epoch or as an ISO date; undefined when neither. */
export function parseTime(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

export type TimeWindow =
  | { kind: 'lookback'; lookback: string; lookbackMs: number; run?: string }
  | { kind: 'range'; from: number; to: number; run?: string };

/** Reads the window from URL parameters; anything unreadable falls back to the default lookback. */
export function readWindow(params: URLSearchParams): TimeWindow {
  const run = params.get('run') || undefined;
  const from = parseTime(params.get('from'));
  const to = parseTime(params.get('to'));
  if (from !== undefined && to !== undefined && from < to) return { kind: 'range', from, to, ...(run ? { run } : {}) };
  const lookback = params.get('lookback') ?? DEFAULT_LOOKBACK;
  const lookbackMs = parseDuration(lookback);
  if (lookbackMs === undefined) return { kind: 'lookback', lookback: DEFAULT_LOOKBACK, lookbackMs: 900_000, ...(run ? { run } : {}) };
  return { kind: 'lookback', lookback, lookbackMs, ...(run ? { run } : {}) };
}

/** The window as query-API parameters (`WindowParams`). */
export function windowApiParams(window: TimeWindow): Record<string, string | number | undefined> {
  const base = window.kind === 'range' ? { from: window.from, to: window.to } : { lookbackMs: window.lookbackMs };
  return { ...base, run: window.run };
}

/** Writes the window into `params` (removing what no longer applies). */
export function writeWindow(params: URLSearchParams, window: TimeWindow): URLSearchParams {
  const next = new URLSearchParams(params);
  next.delete('from');
  next.delete('to');
  next.delete('lookback');
  if (window.kind === 'range') {
    next.set('from', new Date(window.from).toISOString());
    next.set('to', new Date(window.to).toISOString());
  } else if (window.lookback !== DEFAULT_LOOKBACK) {
    next.set('lookback', window.lookback);
  }
  if (window.run) next.set('run', window.run);
  else next.delete('run');
  return next;
}

/** True for the window the live stream reports on, so stream events can replace the data. */
export function isStreamWindow(window: TimeWindow): boolean {
  return window.kind === 'lookback' && window.lookbackMs === 900_000 && !window.run;
}

/** The URL parameters that carry the window, to keep it when moving between views. */
export function windowQuery(params: URLSearchParams): string {
  const keep = new URLSearchParams();
  for (const key of ['lookback', 'from', 'to', 'run']) {
    const value = params.get(key);
    if (value) keep.set(key, value);
  }
  const text = keep.toString();
  return text ? `?${text}` : '';
}
