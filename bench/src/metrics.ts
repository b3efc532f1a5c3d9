// The metrics a run computes, named and typed as k6 names them (http_req_duration, http_req_failed, ...),
// with k6's sub-metrics (`name{tag:value}`) and the thresholds attached to them.
import hdr from 'hdr-histogram-js';
import {
  checkAggregation,
  metricKeyName,
  statisticName,
  thresholdHolds,
  type MetricKey,
  type MetricType,
  type Threshold,
} from './thresholds.ts';

export type MetricContains = 'default' | 'time' | 'data';

export interface MetricDefinition {
  type: MetricType;
  contains: MetricContains;
  /** Tags besides SAMPLE_TAGS that this metric's samples carry (a tally's value tag). */
  extraTags?: readonly string[];
}

/** The built-in k6 metrics the harness measures. k6's timing breakdowns (blocked, connecting, waiting, ...)
 * are left out: autocannon measures a request as a whole, and a metric we cannot measure is not reported. */
export const BUILTIN_METRICS: Readonly<Record<string, MetricDefinition>> = Object.freeze({
  http_reqs: { type: 'counter', contains: 'default' },
  http_req_duration: { type: 'trend', contains: 'time' },
  http_req_failed: { type: 'rate', contains: 'default' },
  checks: { type: 'rate', contains: 'default' },
  iterations: { type: 'counter', contains: 'default' },
  iteration_duration: { type: 'trend', contains: 'time' },
  data_received: { type: 'counter', contains: 'data' },
  data_sent: { type: 'counter', contains: 'data' },
  dropped_iterations: { type: 'counter', contains: 'default' },
  vus: { type: 'gauge', contains: 'default' },
  vus_max: { type: 'gauge', contains: 'default' },
});

/** k6's default `summaryTrendStats` plus p(99), which meshlet's run views show. */
export const DEFAULT_TREND_STATS: readonly string[] = Object.freeze(['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)']);

/** Tags a sample may carry, so sub-metric filters can be checked before the run. */
export const SAMPLE_TAGS: readonly string[] = Object.freeze(['scenario', 'name', 'method', 'status', 'expected_response', 'check']);

/** Most distinct values a tally keeps as sub-metrics; later ones count under `other`. */
const MAX_TALLY_VALUES = 20;

type Tags = Readonly<Record<string, string>>;

interface Sink {
  add(value: number): void;
  /** A statistic by k6 name (`count`, `rate`, `avg`, `p(95)`, ...) over a run of `durationMs`. */
  stat(name: string, durationMs: number): number;
  /** The `values` object of k6's summary. */
  values(durationMs: number, trendStats: readonly string[]): Record<string, number>;
  readonly samples: number;
}

class CounterSink implements Sink {
  samples = 0;
  private total = 0;
  add(value: number): void {
    this.samples++;
    this.total += value;
  }
  stat(name: string, durationMs: number): number {
    if (name === 'count') return this.total;
    return durationMs > 0 ? this.total / (durationMs / 1000) : 0;
  }
  values(durationMs: number): Record<string, number> {
    return { count: this.total, rate: this.stat('rate', durationMs) };
  }
}

class GaugeSink implements Sink {
  samples = 0;
  private last = 0;
  private min = Infinity;
  private max = -Infinity;
  add(value: number): void {
    this.samples++;
    this.last = value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
  stat(): number {
    return this.last;
  }
  values(): Record<string, number> {
    return { value: this.last, min: this.samples === 0 ? 0 : this.min, max: this.samples === 0 ? 0 : this.max };
  }
}

/** A rate counts how many added values were non-zero (k6: `passes`), out of all. */
class RateSink implements Sink {
  samples = 0;
  private trues = 0;
  add(value: number): void {
    this.samples++;
    if (value !== 0) this.trues++;
  }
  stat(): number {
    return this.samples === 0 ? 0 : this.trues / this.samples;
  }
  values(): Record<string, number> {
    return { rate: this.stat(), passes: this.trues, fails: this.samples - this.trues };
  }
}

/**
 * Time trend in milliseconds. Percentiles come from an HDR histogram of microseconds (3 significant
 * digits: within 0.1 %), so memory stays bounded however long the run; count, sum, min and max are exact.
 */
class TrendSink implements Sink {
  samples = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000, // 1 h in µs; autoResize grows it if ever needed
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 'packed',
    useWebAssembly: false,
  });
  add(ms: number): void {
    this.samples++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
  stat(name: string): number {
    if (name === 'count') return this.samples;
    if (this.samples === 0) return 0;
    switch (name) {
      case 'avg':
        return this.sum / this.samples;
      case 'min':
        return this.min;
      case 'max':
        return this.max;
      case 'med':
        return this.percentile(50);
      default: {
        const match = /^p\((\d+(?:\.\d+)?)\)$/.exec(name);
        // Trend stats are validated before the run; an unknown one here is a bug.
        if (match === null) throw new Error(`unknown trend statistic "${name}"`);
        return this.percentile(Number(match[1]));
      }
    }
  }
  private percentile(p: number): number {
    if (p <= 0) return this.min;
    if (p >= 100) return this.max;
    const value = this.histogram.getValueAtPercentile(p) / 1000;
    return Math.min(this.max, Math.max(this.min, value));
  }
  values(_durationMs: number, trendStats: readonly string[]): Record<string, number> {
    const values: Record<string, number> = {};
    for (const stat of trendStats) values[stat] = this.stat(stat);
    return values;
  }
}

function createSink(type: MetricType): Sink {
  switch (type) {
    case 'counter':
      return new CounterSink();
    case 'gauge':
      return new GaugeSink();
    case 'rate':
      return new RateSink();
    case 'trend':
      return new TrendSink();
  }
}

/** One metric or sub-metric in the summary. */
interface Series {
  name: string;
  metric: string;
  tags: Tags;
  sink: Sink;
  thresholds: Threshold[];
  /** Shown even without samples (declared by a threshold), as k6 does. */
  declared: boolean;
}

/** The outcome of one threshold at evaluation time. */
export interface ThresholdResult {
  series: string;
  source: string;
  statistic: string;
  observed: number;
  ok: boolean;
  abortOnFail: boolean;
}

/** A metric in k6's summary data (`data.metrics[name]`). */
export interface SummaryMetric {
  type: MetricType;
  contains: MetricContains;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface MetricSetOptions {
  /** Custom metrics (the scenario's tally) besides the built-in ones. */
  custom?: Readonly<Record<string, MetricDefinition>>;
  /** Thresholds by metric key (`http_req_duration`, `http_req_duration{scenario:a}`). */
  thresholds?: ReadonlyArray<{ key: MetricKey; thresholds: readonly Threshold[] }>;
  /** Metrics whose distinct values of `tag` become sub-metrics automatically (tallies). */
  autoSubmetrics?: Readonly<Record<string, string>>;
}

/**
 * The metrics of one run. `add()` is on the hot path (one call per request per metric): it walks the
 * few series of that metric and nothing else.
 */
export class MetricSet {
  private readonly definitions: Record<string, MetricDefinition>;
  private readonly series = new Map<string, Series[]>();
  private readonly autoSubmetrics: Readonly<Record<string, string>>;

  constructor(options: MetricSetOptions = {}) {
    this.definitions = { ...BUILTIN_METRICS, ...options.custom };
    this.autoSubmetrics = options.autoSubmetrics ?? {};
    for (const [metric, definition] of Object.entries(this.definitions)) {
      this.series.set(metric, [{ name: metric, metric, tags: {}, sink: createSink(definition.type), thresholds: [], declared: false }]);
    }
    // k6 always reports the duration of requests whose status was expected.
    this.addSeries({ metric: 'http_req_duration', tags: { expected_response: 'true' } }, [], false);
    for (const { key, thresholds } of options.thresholds ?? []) this.addSeries(key, thresholds, true);
  }

  /** The definition of a metric, or undefined when the harness does not compute it. */
  definition(metric: string): MetricDefinition | undefined {
    return this.definitions[metric];
  }

  /**
   * Checks a threshold declaration against what the harness computes; returns a problem or undefined.
   * Used before the run so a typo fails the start, not the end.
   */
  static problem(key: MetricKey, threshold: Threshold, definitions: Readonly<Record<string, MetricDefinition>>): string | undefined {
    const definition = definitions[key.metric];
    if (definition === undefined) {
      return `unknown metric "${key.metric}"; the harness computes ${Object.keys(definitions).join(', ')}`;
    }
    const allowed = [...SAMPLE_TAGS, ...(definition.extraTags ?? [])];
    for (const tag of Object.keys(key.tags)) {
      if (!allowed.includes(tag)) return `unknown tag "${tag}" in "${metricKeyName(key)}"; samples of ${key.metric} are tagged ${allowed.join(', ')}`;
    }
    return checkAggregation(definition.type, threshold);
  }

  private addSeries(key: MetricKey, thresholds: readonly Threshold[], declared: boolean): Series {
    const list = this.series.get(key.metric);
    // Thresholds are checked with MetricSet.problem() first; an unknown metric here is a bug.
    if (list === undefined) throw new Error(`metric "${key.metric}" is not defined`);
    const name = metricKeyName(key);
    let series = list.find((s) => s.name === name);
    if (series === undefined) {
      series = { name, metric: key.metric, tags: key.tags, sink: createSink((this.definitions[key.metric] as MetricDefinition).type), thresholds: [], declared };
      list.push(series);
    }
    series.thresholds.push(...thresholds);
    series.declared ||= declared;
    return series;
  }

  /** Adds a sample to a metric and to every sub-metric whose tags it carries. */
  add(metric: string, value: number, tags: Tags): void {
    const list = this.series.get(metric);
    if (list === undefined) throw new Error(`metric "${metric}" is not defined`);
    const autoTag = this.autoSubmetrics[metric];
    if (autoTag !== undefined && tags[autoTag] !== undefined) this.autoSeries(metric, autoTag, tags[autoTag]);
    for (const series of list) {
      if (matches(series.tags, tags)) series.sink.add(value);
    }
  }

  private autoSeries(metric: string, tag: string, value: string): void {
    const list = this.series.get(metric) as Series[];
    const name = metricKeyName({ metric, tags: { [tag]: value } });
    if (list.some((s) => s.name === name)) return;
    const automatic = list.filter((s) => Object.keys(s.tags).length === 1 && s.tags[tag] !== undefined).length;
    if (automatic >= MAX_TALLY_VALUES) return;
    this.addSeries({ metric, tags: { [tag]: value } }, [], true);
  }

  /** A statistic of a metric or sub-metric by its summary name, e.g. `stat('http_req_duration', 'p(95)')`. */
  stat(name: string, statistic: string, durationMs: number): number | undefined {
    const metric = name.includes('{') ? name.slice(0, name.indexOf('{')) : name;
    const series = this.series.get(metric)?.find((s) => s.name === name);
    return series?.sink.stat(statistic, durationMs);
  }

  /** Evaluates every threshold (or only those that abort the run, once their delay has passed). */
  evaluate(durationMs: number, only?: { abortable: true; elapsedMs: number }): ThresholdResult[] {
    const results: ThresholdResult[] = [];
    for (const list of this.series.values()) {
      for (const series of list) {
        for (const threshold of series.thresholds) {
          if (only !== undefined && (!threshold.abortOnFail || only.elapsedMs < threshold.delayAbortEvalMs)) continue;
          const statistic = statisticName(threshold);
          const observed = series.sink.stat(statistic, durationMs);
          results.push({
            series: series.name,
            source: threshold.source,
            statistic,
            observed,
            ok: thresholdHolds(threshold, observed),
            abortOnFail: threshold.abortOnFail,
          });
        }
      }
    }
    return results;
  }

  /** `data.metrics` of k6's summary: metrics with samples, and sub-metrics declared by thresholds. */
  summary(durationMs: number, trendStats: readonly string[], results: readonly ThresholdResult[]): Record<string, SummaryMetric> {
    const out: Record<string, SummaryMetric> = {};
    for (const list of this.series.values()) {
      for (const series of list) {
        if (series.sink.samples === 0 && !series.declared && series.thresholds.length === 0) continue;
        const definition = this.definitions[series.metric] as MetricDefinition;
        const metric: SummaryMetric = { type: definition.type, contains: definition.contains, values: series.sink.values(durationMs, trendStats) };
        const mine = results.filter((r) => r.series === series.name);
        if (mine.length > 0) {
          metric.thresholds = {};
          for (const r of mine) metric.thresholds[r.source] = { ok: r.ok };
        }
        out[series.name] = metric;
      }
    }
    return out;
  }
}

function matches(filter: Tags, tags: Tags): boolean {
  for (const key in filter) {
    if (tags[key] !== filter[key]) return false;
  }
  return true;
}
