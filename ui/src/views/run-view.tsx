// One load-test run: throughput and latency percentiles over time, errors by reason, the run's own graph
// and failure points, and the difference to a baseline run picked in the URL (`?baseline=<runId>`).
import { useCallback } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { QUERY_API, REASON_HINTS, type FailureReason, type RunDetail, type RunsResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { ReasonBadge } from '../components/badges.tsx';
import { GraphCanvas, formatSelection, parseSelection, type Selection } from '../components/graph-canvas.tsx';
import { LineChart } from '../components/line-chart.tsx';
import { Empty, ErrorState, Loading } from '../components/states.tsx';
import { Stat } from '../components/stats.tsx';
import { useGraphLayout } from '../components/use-graph-layout.ts';
import { formatCount, formatDeltaMs, formatMs, formatPercent, formatRate, formatTime } from '../format.ts';
import { useApi } from '../use-api.ts';
import { FailureTable } from './failures-view.tsx';

export function RunView() {
  const { runId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const baseline = params.get('baseline') ?? '';
  const run = useApi<RunDetail>(apiUrl(QUERY_API.run(runId), { baseline: baseline || undefined }));
  const runs = useApi<RunsResponse>(apiUrl(QUERY_API.runs));
  const runQuery = `?run=${encodeURIComponent(runId)}`;

  return (
    <section className="view">
      <div className="view-header">
        <h1 tabIndex={-1}>
          Load test <span className="mono">{run.data?.run.name ?? runId}</span>
        </h1>
        <p className="subtitle">
          <Link to="/runs">All runs</Link> · <Link to={`/traces${runQuery}`}>its traces</Link> · <Link to={`/${runQuery}`}>its graph on the front page</Link>
        </p>
        <div className="view-actions">
          <label>
            compare with{' '}
            <select
              data-search
              value={baseline}
              onChange={(e) => {
                const next = new URLSearchParams(params);
                if (e.target.value) next.set('baseline', e.target.value);
                else next.delete('baseline');
                setParams(next);
              }}
              aria-label="Baseline run to compare with"
            >
              <option value="">no baseline</option>
              {(runs.data?.runs ?? [])
                .filter((r) => r.runId !== runId)
                .map((r) => (
                  <option key={r.runId} value={r.runId}>
                    {r.name ?? r.runId} ({formatTime(r.startMs)})
                  </option>
                ))}
              {baseline && !runs.data?.runs.some((r) => r.runId === baseline) ? <option value={baseline}>{baseline}</option> : null}
            </select>
          </label>
        </div>
      </div>
      {run.data === undefined ? (
        run.error ? (
          run.error.status === 404 ? (
            <Empty title={`No load-test run “${runId}”`}>
              The collector knows no run with this id. <Link to="/runs">See the runs it knows</Link>.
            </Empty>
          ) : (
            <ErrorState error={run.error} onRetry={run.reload} />
          )
        ) : (
          <Loading what="the run" />
        )
      ) : (
        <RunBody detail={run.data} runQuery={runQuery} />
      )}
    </section>
  );
}

function RunBody({ detail, runQuery }: { detail: RunDetail; runQuery: string }) {
  const r = detail.run;
  const errorRate = r.requests ? r.errors / r.requests : 0;
  const bucketMs = detail.series.length > 1 ? Math.max(1, detail.series[1]!.tMs - detail.series[0]!.tMs) : 1000;
  const throughput = rebucket(detail.series, bucketMs, 40);
  const reasons = Object.entries(detail.errorsByReason).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)) as [FailureReason, number][];
  return (
    <>
      <dl className="stats wide" data-testid="run-summary">
        <Stat label="started" value={formatTime(r.startMs)} />
        <Stat label="duration" value={formatMs(r.endMs - r.startMs)} />
        <Stat label="requests" value={formatCount(r.requests)} />
        <Stat label="throughput" value={formatRate(r.ratePerSecond)} />
        <Stat label="errors" value={`${formatCount(r.errors)} (${formatPercent(errorRate)})`} />
        <Stat label="p50" value={formatMs(r.p50Ms)} />
        <Stat label="p90" value={formatMs(r.p90Ms)} />
        <Stat label="p99" value={formatMs(r.p99Ms)} />
        <Stat label="thresholds" value={r.thresholdsPassed === undefined ? '–' : r.thresholdsPassed ? 'passed' : 'failed'} />
      </dl>
      {detail.diff ? (
        <div className="diff" data-testid="run-diff">
          <h2>
            Compared with {detail.diff.baseline.name ?? detail.diff.baseline.runId}
          </h2>
          <table className="table compact diff-table">
            <thead>
              <tr>
                <th scope="col" />
                <th scope="col" className="num">
                  baseline
                </th>
                <th scope="col" className="num">
                  this run
                </th>
                <th scope="col" className="num">
                  change
                </th>
              </tr>
            </thead>
            <tbody>
              <DiffRow label="p50" base={formatMs(detail.diff.baseline.p50Ms)} now={formatMs(r.p50Ms)} delta={detail.diff.p50DeltaMs} text={formatDeltaMs(detail.diff.p50DeltaMs)} worseWhenUp />
              <DiffRow label="p99" base={formatMs(detail.diff.baseline.p99Ms)} now={formatMs(r.p99Ms)} delta={detail.diff.p99DeltaMs} text={formatDeltaMs(detail.diff.p99DeltaMs)} worseWhenUp />
              <DiffRow
                label="error rate"
                base={formatPercent(detail.diff.baseline.requests ? detail.diff.baseline.errors / detail.diff.baseline.requests : 0)}
                now={formatPercent(errorRate)}
                delta={detail.diff.errorRateDelta}
                text={`${detail.diff.errorRateDelta >= 0 ? '+' : '−'}${formatPercent(Math.abs(detail.diff.errorRateDelta))}`}
                worseWhenUp
              />
              <DiffRow
                label="throughput"
                base={formatRate(detail.diff.baseline.ratePerSecond)}
                now={formatRate(r.ratePerSecond)}
                delta={detail.diff.rateDelta}
                text={`${detail.diff.rateDelta >= 0 ? '+' : '−'}${formatRate(Math.abs(detail.diff.rateDelta))}`}
                worseWhenUp={false}
              />
            </tbody>
          </table>
        </div>
      ) : null}
      <div className="charts">
        <LineChart
          title="Throughput"
          formatValue={formatRate}
          series={[
            { name: 'requests/s', className: 'series-1', points: throughput.map((b) => ({ t: b.tMs, v: b.requestsPerSecond })) },
            { name: 'errors/s', className: 'series-error', points: throughput.map((b) => ({ t: b.tMs, v: b.errorsPerSecond })) },
          ]}
        />
        <LineChart
          title="Latency percentiles"
          formatValue={formatMs}
          series={[
            { name: 'p50', className: 'series-1', points: detail.series.map((s) => ({ t: s.tMs, v: s.p50Ms })) },
            { name: 'p90', className: 'series-2', points: detail.series.map((s) => ({ t: s.tMs, v: s.p90Ms })) },
            { name: 'p99', className: 'series-3', points: detail.series.map((s) => ({ t: s.tMs, v: s.p99Ms })) },
          ]}
        />
      </div>
      <h2>Errors by reason</h2>
      {reasons.length === 0 ? (
        <p className="muted">No request of this run failed.</p>
      ) : (
        <ul className="plain-list reasons" data-testid="run-reasons">
          {reasons.map(([reason, count]) => (
            <li key={reason}>
              <ReasonBadge reason={reason} /> {formatCount(count)}× <span className="hint">{REASON_HINTS[reason]}</span>
            </li>
          ))}
        </ul>
      )}
      <h2>The run’s graph</h2>
      <RunGraph detail={detail} />
      <h2>The run’s failures</h2>
      {detail.failures.length === 0 ? <p className="muted">No failure points in this run.</p> : <FailureTable points={detail.failures} carry={runQuery} />}
    </>
  );
}

function RunGraph({ detail }: { detail: RunDetail }) {
  const [params, setParams] = useSearchParams();
  const selection = parseSelection(params.get('selected'));
  const { layout, error } = useGraphLayout(detail.graph);
  const select = useCallback(
    (next: Selection) =>
      setParams((current) => {
        const p = new URLSearchParams(current);
        const text = formatSelection(next);
        if (text) p.set('selected', text);
        else p.delete('selected');
        return p;
      }),
    [setParams],
  );
  if (detail.graph.nodes.length === 0) return <p className="muted">No spans carried this run’s id.</p>;
  if (error) return <p className="state state-error">{error}</p>;
  if (!layout) return <Loading what="the run's graph" />;
  return (
    <div className="run-graph" data-testid="run-graph">
      <GraphCanvas graph={detail.graph} layout={layout} selection={selection} onSelect={select} label={`Service graph of run ${detail.run.runId}`} />
    </div>
  );
}

/**
 * Sums counts into at most `maxPoints` buckets so a long run at a low rate is not a saw of 0s and 1s.
 * (Counts add up exactly; percentiles do not, so the latency chart keeps the collector's buckets.)
 */
export function rebucket(series: RunDetail['series'], bucketMs: number, maxPoints: number): { tMs: number; requestsPerSecond: number; errorsPerSecond: number }[] {
  const factor = Math.max(1, Math.ceil(series.length / maxPoints));
  const out: { tMs: number; requestsPerSecond: number; errorsPerSecond: number }[] = [];
  for (let i = 0; i < series.length; i += factor) {
    const group = series.slice(i, i + factor);
    const seconds = (bucketMs * group.length) / 1000;
    out.push({
      tMs: group[0]!.tMs,
      requestsPerSecond: group.reduce((sum, b) => sum + b.requests, 0) / seconds,
      errorsPerSecond: group.reduce((sum, b) => sum + b.errors, 0) / seconds,
    });
  }
  return out;
}

function DiffRow({ label, base, now, delta, text, worseWhenUp }: { label: string; base: string; now: string; delta: number; text: string; worseWhenUp: boolean }) {
  const tone = delta === 0 ? '' : delta > 0 === worseWhenUp ? 'worse' : 'better';
  return (
    <tr>
      <th scope="row">{label}</th>
      <td className="num">{base}</td>
      <td className="num">{now}</td>
      <td className={`num delta ${tone}`}>
        {text} {tone ? <span className="visually-hidden">({tone})</span> : null}
      </td>
    </tr>
  );
}
