// Load-test runs (from `meshlet bench`, tagged with `baggage: meshlet.run=<id>`), newest first.
import { Link, useSearchParams } from 'react-router';
import { QUERY_API, type RunsResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { TableHead } from '../components/fields.tsx';
import { Empty, Loadable } from '../components/states.tsx';
import { formatAgo, formatCount, formatMs, formatPercent, formatRate, formatTime } from '../format.ts';
import { useApi } from '../use-api.ts';

export function RunsView() {
  const [params] = useSearchParams();
  const runs = useApi<RunsResponse>(apiUrl(QUERY_API.runs), 10_000);
  const baseline = params.get('baseline') ?? '';
  return (
    <section className="view">
      <div className="view-header">
        <h1 tabIndex={-1}>Load tests</h1>
        <p className="subtitle">Runs of <code>meshlet bench</code>: throughput, latency and errors, each with its own graph and failures.</p>
      </div>
      <Loadable state={runs} what="load-test runs">
        {(data) =>
          data.runs.length === 0 ? (
            <Empty title="No load-test runs yet">
              Run one with <code>npx meshlet bench</code>: it tags every request with <code>baggage: meshlet.run=&lt;id&gt;</code> so its traces, graph and
              failures show up here. k6 users add the same baggage header.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="table" data-testid="runs-table">
                <TableHead
                  columns={[
                    'run',
                    'started',
                    ...['duration', 'requests', 'rate', 'errors', 'p50', 'p90', 'p99'].map((label) => ({ label, num: true })),
                    'thresholds',
                  ]}
                />
                <tbody>
                  {data.runs.map((r) => (
                    <tr key={r.runId} data-testid="run-row" data-run={r.runId}>
                      <td>
                        <Link to={`/runs/${encodeURIComponent(r.runId)}${baseline && baseline !== r.runId ? `?baseline=${encodeURIComponent(baseline)}` : ''}`} className="row-link">
                          {r.name ?? r.runId}
                        </Link>
                        {r.name ? <div className="muted small mono">{r.runId}</div> : null}
                      </td>
                      <td className="nowrap" title={formatTime(r.startMs)}>
                        {formatAgo(r.startMs)}
                      </td>
                      <td className="num">{formatMs(r.endMs - r.startMs)}</td>
                      <td className="num">{formatCount(r.requests)}</td>
                      <td className="num">{formatRate(r.ratePerSecond)}</td>
                      <td className={`num${r.errors > 0 ? ' err' : ''}`}>
                        {formatCount(r.errors)} ({formatPercent(r.requests ? r.errors / r.requests : 0)})
                      </td>
                      <td className="num">{formatMs(r.p50Ms)}</td>
                      <td className="num">{formatMs(r.p90Ms)}</td>
                      <td className="num">{formatMs(r.p99Ms)}</td>
                      <td>
                        {r.thresholdsPassed === undefined ? (
                          <span className="muted">–</span>
                        ) : r.thresholdsPassed ? (
                          <span className="badge status-ok">passed</span>
                        ) : (
                          <span className="badge status-error">failed</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loadable>
    </section>
  );
}
