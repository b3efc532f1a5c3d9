// The request/error/latency figures of a service, a call or a run, as a grid of small labelled values.
import type { ReactNode } from 'react';
import { formatCount, formatMs, formatPercent, formatRate } from '../format.ts';

export function Stat({ label, value, tone }: { label: string; value: string; tone?: 'bad' | 'warn' | undefined }) {
  return (
    <div className={`stat${tone ? ` stat-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

export interface RedFigures {
  requests: number;
  ratePerSecond: number;
  errors: number;
  errorRate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/** Requests, rate, errors (toned by error rate), p50/p90/p99, then any extra stats. */
export function RedStats({ figures: f, children }: { figures: RedFigures; children?: ReactNode }) {
  return (
    <dl className="stats">
      <Stat label="requests" value={formatCount(f.requests)} />
      <Stat label="rate" value={formatRate(f.ratePerSecond)} />
      <Stat label="errors" value={`${formatCount(f.errors)} (${formatPercent(f.errorRate)})`} tone={f.errorRate > 0.05 ? 'bad' : f.errorRate > 0 ? 'warn' : undefined} />
      <Stat label="p50" value={formatMs(f.p50Ms)} />
      <Stat label="p90" value={formatMs(f.p90Ms)} />
      <Stat label="p99" value={formatMs(f.p99Ms)} />
      {children}
    </dl>
  );
}
