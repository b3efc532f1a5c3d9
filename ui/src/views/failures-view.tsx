// Failure points (origins aggregated by service, operation and reason), ranked by count, with what they broke.
import { Link, useSearchParams } from 'react-router';
import { QUERY_API, REASON_HINTS, type FailurePoint, type FailuresResponse, type ServicesResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { ReasonBadge } from '../components/badges.tsx';
import { REASON_CHOICES, SelectField, TableHead } from '../components/fields.tsx';
import { Sparkline } from '../components/sparkline.tsx';
import { Empty, Loadable } from '../components/states.tsx';
import { formatAgo, formatCount, formatTime } from '../format.ts';
import { useStreamEvent, useStreamStatus } from '../stream.tsx';
import { isStreamWindow, readWindow, windowApiParams, windowQuery } from '../time-window.ts';
import { useApi } from '../use-api.ts';

export function FailuresView() {
  const [params, setParams] = useSearchParams();
  const timeWindow = readWindow(params);
  const service = params.get('service') ?? '';
  const reason = params.get('reason') ?? '';
  const status = useStreamStatus();
  const live = isStreamWindow(timeWindow) && status === 'live' && !service && !reason;
  const failures = useApi<FailuresResponse>(
    apiUrl(QUERY_API.failures, { ...windowApiParams(timeWindow), service, reason, limit: 100 }),
    timeWindow.kind === 'lookback' && !live ? 10_000 : undefined,
  );
  useStreamEvent('failure', live, (point) =>
    failures.setData((prev) => (prev ? { ...prev, points: [point, ...prev.points.filter((p) => p.id !== point.id)].sort((a, b) => b.count - a.count) } : prev)),
  );
  const services = useApi<ServicesResponse>(apiUrl(QUERY_API.services));

  const setFilter = (key: string, value: string): void => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };

  return (
    <section className="view">
      <div className="view-header">
        <h1 tabIndex={-1}>Failures</h1>
        <p className="subtitle">Where failed requests started, ranked by how often. Services that only passed a failure on are listed with it, not as causes.</p>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter failure points">
        <SelectField
          label="origin service"
          name="service"
          value={service}
          choices={(services.data?.services ?? []).map((s) => s.name)}
          onChange={(v) => setFilter('service', v)}
          search
        />
        <SelectField label="reason" name="reason" value={reason} choices={REASON_CHOICES} onChange={(v) => setFilter('reason', v)} />
        {service || reason ? (
          <button type="button" className="button ghost" onClick={() => setParams(new URLSearchParams(windowQuery(params).slice(1)))}>
            Clear filters
          </button>
        ) : null}
      </form>
      <Loadable state={failures} what="failure points">
        {(data) =>
          data.points.length === 0 ? (
            <Empty title={service || reason ? 'No failure point matches these filters' : 'No failures in this window'}>
              {service || reason ? 'Clear the filters or pick a wider window in the header.' : 'Every request in the window succeeded (or no spans arrived: see the graph).'}
            </Empty>
          ) : (
            <FailureTable points={data.points} carry={windowQuery(params)} />
          )
        }
      </Loadable>
    </section>
  );
}

/** The ranked table; also used for a load-test run's failures. */
export function FailureTable({ points, carry }: { points: readonly FailurePoint[]; carry: string }) {
  return (
    <div className="table-wrap">
      <table className="table failures-table" data-testid="failures-table">
        <TableHead columns={['#', 'started in', 'reason', { label: 'count', num: true }, 'over the window', 'seen', 'broke', 'examples']} />
        <tbody>
          {points.map((p, i) => (
            <tr key={p.id} data-testid="failure-row" data-point={p.id}>
              <td className="muted">{i + 1}</td>
              <td>
                <strong>{p.service}</strong>
                <div className="op">{p.operation}</div>
                <div className="muted small">{p.origin === 'app' ? 'the service’s own code' : 'made by the mesh proxy'}</div>
              </td>
              <td className="reason-cell">
                <ReasonBadge reason={p.reason} />
                <div className="hint">{REASON_HINTS[p.reason]}</div>
                {p.message ? <div className="message mono small">{p.message}</div> : null}
              </td>
              <td className="num">
                <strong>{formatCount(p.count)}</strong>
              </td>
              <td>
                <Sparkline counts={p.series.counts} bucketMs={p.series.bucketMs} label={`${p.service} ${p.reason}`} />
              </td>
              <td className="small">
                <div title={formatTime(p.firstSeenMs)}>first {formatAgo(p.firstSeenMs)}</div>
                <div title={formatTime(p.lastSeenMs)}>last {formatAgo(p.lastSeenMs)}</div>
              </td>
              <td className="small">
                {p.entryOperations.map((e) => (
                  <div key={`${e.service} ${e.operation}`}>
                    {e.service} <span className="op">{e.operation}</span> <span className="muted">×{e.count}</span>
                  </div>
                ))}
                {p.propagatedBy.length > 0 ? <div className="muted">passed on by {p.propagatedBy.join(', ')}</div> : null}
              </td>
              <td className="small">
                {p.exampleTraceIds.map((id, n) => (
                  <div key={id}>
                    <Link to={`/traces/${id}${carry}`} className="mono" data-testid="failure-example-link" aria-label={`Example trace ${n + 1} of ${p.service} ${p.reason}`}>
                      {id.slice(0, 12)}…
                    </Link>
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
