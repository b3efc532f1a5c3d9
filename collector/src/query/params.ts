// Reading query parameters: every bad value is a 400 naming the parameter and what was expected.
import { parseDurationMs } from '@meshlet/wire';
import { CollectorError } from '../errors.ts';

export const DEFAULT_LOOKBACK_MS = 15 * 60_000; // 15 min

function bad(param: string, message: string): CollectorError {
  return new CollectorError('ERR_COLLECTOR_BAD_PARAM', `${param}: ${message}`, param);
}

/** A query string with typed getters. */
export class Params {
  readonly search: URLSearchParams;

  constructor(search: URLSearchParams) {
    this.search = search;
  }

  string(name: string): string | undefined {
    const v = this.search.get(name);
    return v === null || v === '' ? undefined : v;
  }

  all(name: string): string[] {
    return this.search.getAll(name).filter((v) => v !== '');
  }

  number(name: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw bad(name, `expected a number, got "${raw}"`);
    if (opts.integer === true && !Number.isInteger(n)) throw bad(name, `expected an integer, got "${raw}"`);
    if (opts.min !== undefined && n < opts.min) throw bad(name, `must be at least ${opts.min}, got ${raw}`);
    if (opts.max !== undefined && n > opts.max) throw bad(name, `must be at most ${opts.max}, got ${raw}`);
    return n;
  }

  /** A duration: a number of ms, or text such as `250ms`, `1.5s`, `2m`. */
  durationMs(name: string): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const ms = parseDurationMs(raw);
    if (ms === undefined) throw bad(name, `expected a duration such as 250ms, 1.5s or a number of ms, got "${raw}"`);
    return ms;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (!(values as readonly string[]).includes(raw)) throw bad(name, `expected one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  }

  limit(name = 'limit', fallback = 50, max = 1000): number {
    return this.number(name, { min: 1, max, integer: true }) ?? fallback;
  }

  /** Repeated `attr=key=value` pairs. */
  attributes(name = 'attr'): [string, string][] {
    return this.all(name).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw bad(name, `expected key=value, got "${pair}"`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    });
  }
}

export interface Window {
  from: number;
  to: number;
  run?: string;
}

/**
 * The time window of `from`/`to` (ms) or `lookbackMs` back from now (default 15 min). `runExtent` gives a
 * run's [start, end] when `run` is set and no time was asked for.
 */
export function windowOf(p: Params, nowMs: number, runExtent?: (run: string) => { from: number; to: number } | undefined): Window {
  const run = p.string('run');
  const from = p.number('from', { min: 0 });
  const to = p.number('to', { min: 0 });
  const lookback = p.number('lookbackMs', { min: 1 });
  if (run !== undefined && from === undefined && to === undefined && lookback === undefined && runExtent !== undefined) {
    const extent = runExtent(run);
    if (extent !== undefined) return { from: extent.from, to: extent.to, run };
  }
  const end = to ?? nowMs;
  const start = from ?? end - (lookback ?? DEFAULT_LOOKBACK_MS);
  if (start > end) throw bad('from', `must not be after to (${start} > ${end})`);
  return run === undefined ? { from: start, to: end } : { from: start, to: end, run };
}
