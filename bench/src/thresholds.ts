// k6 threshold syntax: metric keys with tag filters (`http_req_duration{scenario:steady}`) and
// expressions (`p(95)<500`), parsed the way k6 does (metrics/thresholds_parser.go), and evaluated.

/** The four k6 metric types. */
export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';

export type ThresholdOperator = '<=' | '<' | '>=' | '>' | '===' | '==' | '!=';
/** Longer tokens first: `<=` must win over `<` (k6 scans the same way). */
const OPERATORS: readonly ThresholdOperator[] = ['<=', '<', '>=', '>', '===', '==', '!='];

export type AggregationMethod = 'count' | 'rate' | 'value' | 'avg' | 'min' | 'max' | 'med' | 'p';

/** Which aggregation methods each metric type accepts (k6's threshold grammar). */
const METHODS_BY_TYPE: Readonly<Record<MetricType, readonly AggregationMethod[]>> = {
  counter: ['count', 'rate'],
  gauge: ['value'],
  rate: ['rate'],
  trend: ['avg', 'min', 'max', 'med', 'p'],
};

export interface ThresholdExpression {
  method: AggregationMethod;
  /** For `p(N)`: N, 0..100. */
  percentile?: number;
  operator: ThresholdOperator;
  value: number;
}

/** A threshold as declared: its source text (the key in the summary) and abort options. */
export interface Threshold extends ThresholdExpression {
  source: string;
  abortOnFail: boolean;
  delayAbortEvalMs: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses `aggregation operator value`, e.g. `p(99.9) < 200`, `rate<0.01`, `count>=100`.
 * @example parseThresholdExpression('p(95)<500') // { ok: true, value: { method: 'p', percentile: 95, operator: '<', value: 500 } }
 */
export function parseThresholdExpression(input: string): Parsed<ThresholdExpression> {
  let operator: ThresholdOperator | undefined;
  let left = '';
  let right = '';
  for (const op of OPERATORS) {
    const at = input.indexOf(op);
    if (at >= 0) {
      operator = op;
      left = input.slice(0, at).trim();
      right = input.slice(at + op.length).trim();
      break;
    }
  }
  if (operator === undefined) {
    return { ok: false, error: `"${input}" has no comparison; expected e.g. "p(95)<500" or "rate<0.01" (operators: ${OPERATORS.join(' ')})` };
  }
  if (!FLOAT.test(right)) return { ok: false, error: `"${input}": the right-hand side "${right}" is not a number` };
  const value = Number(right);
  if (['count', 'rate', 'value', 'avg', 'min', 'max', 'med'].includes(left)) {
    return { ok: true, value: { method: left as AggregationMethod, operator, value } };
  }
  const percentile = /^p\((.*)\)$/.exec(left);
  if (percentile !== null) {
    const n = (percentile[1] as string).trim();
    if (!FLOAT.test(n) || Number(n) < 0 || Number(n) > 100) {
      return { ok: false, error: `"${input}": "${left}" needs a percentile between 0 and 100, e.g. p(95) or p(99.9)` };
    }
    return { ok: true, value: { method: 'p', percentile: Number(n), operator, value } };
  }
  return {
    ok: false,
    error: `"${input}": unknown aggregation "${left}"; expected count, rate, value, avg, min, max, med or p(N)`,
  };
}

/** A metric key: the metric name and the tags a sub-metric filters on. */
export interface MetricKey {
  metric: string;
  tags: Readonly<Record<string, string>>;
}

/**
 * Parses `name` or `name{tag:value,tag2:value2}` (values may be quoted), the way k6 names sub-metrics.
 * @example parseMetricKey('http_req_duration{scenario:steady}') // { ok: true, value: { metric: 'http_req_duration', tags: { scenario: 'steady' } } }
 */
export function parseMetricKey(key: string): Parsed<MetricKey> {
  const open = key.indexOf('{');
  if (open < 0) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return { ok: false, error: `"${key}" is not a metric name` };
    return { ok: true, value: { metric: key, tags: {} } };
  }
  if (!key.endsWith('}')) return { ok: false, error: `"${key}": a sub-metric is written name{tag:value}` };
  const metric = key.slice(0, open).trim();
  const tags: Record<string, string> = {};
  for (const part of key.slice(open + 1, -1).split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) return { ok: false, error: `"${key}": "${part.trim()}" is not tag:value` };
    const tag = part.slice(0, colon).trim();
    const value = part.slice(colon + 1).trim().replace(/^(["'`])(.*)\1$/, '$2');
    if (tag === '' || value === '') return { ok: false, error: `"${key}": "${part.trim()}" needs a tag and a value` };
    tags[tag] = value;
  }
  return { ok: true, value: { metric, tags } };
}

/** Canonical name of a sub-metric (`name{a:1,b:2}`, tags sorted), as k6 prints it in summaries. */
export function metricKeyName(key: MetricKey): string {
  const entries = Object.entries(key.tags).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? key.metric : `${key.metric}{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`;
}

/** Whether `method` may be used on a metric of `type`, and if not, what may. */
export function checkAggregation(type: MetricType, expression: ThresholdExpression): string | undefined {
  const allowed = METHODS_BY_TYPE[type];
  if (allowed.includes(expression.method)) return undefined;
  const name = expression.method === 'p' ? `p(${expression.percentile})` : expression.method;
  return `${name} does not apply to a ${type} metric; use ${allowed.map((m) => (m === 'p' ? 'p(N)' : m)).join(', ')}`;
}

/** The statistic name the threshold reads from a sink (`p(95)`, `rate`, ...). */
export function statisticName(expression: ThresholdExpression): string {
  return expression.method === 'p' ? `p(${expression.percentile})` : expression.method;
}

/** True when the threshold holds for `observed`. */
export function thresholdHolds(expression: ThresholdExpression, observed: number): boolean {
  const { operator, value } = expression;
  switch (operator) {
    case '<':
      return observed < value;
    case '<=':
      return observed <= value;
    case '>':
      return observed > value;
    case '>=':
      return observed >= value;
    case '==':
    case '===':
      return observed === value;
    case '!=':
      return observed !== value;
  }
}
