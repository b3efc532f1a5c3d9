// The front page: the live service graph, and beside it where current failures start or the details of
// the service or call the user picked. Selection and window live in the URL (`?selected=node:payments`).
import { useCallback, useEffect, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { QUERY_API, type FailuresResponse, type GraphResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { ReasonBadge } from '../components/badges.tsx';
import { formatSelection, GraphCanvas, parseSelection, type Selection } from '../components/graph-canvas.tsx';
import { Empty, ErrorState, Loading, NoSpansHint } from '../components/states.tsx';
import { useGraphLayout } from '../components/use-graph-layout.ts';
import { formatAgo, formatCount, formatTime } from '../format.ts';
import { useCollectorHealth } from '../health.ts';
import { useStreamEvent, useStreamStatus } from '../stream.tsx';
import { isStreamWindow, readWindow, windowApiParams, windowQuery } from '../time-window.ts';
import { useApi } from '../use-api.ts';
import { EdgePanel, NodePanel } from './graph-panels.tsx';

export function GraphView() {
  const [params, setParams] = useSearchParams();
  const timeWindow = readWindow(params);
  const selection = parseSelection(params.get('selected'));
  const streamStatus = useStreamStatus();
  const live = isStreamWindow(timeWindow) && streamStatus === 'live';
  // Relative windows keep moving: poll when the stream does not cover them.
  const refreshMs = timeWindow.kind === 'lookback' && !live ? 5000 : undefined;
  const graph = useApi<GraphResponse>(apiUrl(QUERY_API.graph, windowApiParams(timeWindow)), refreshMs);
  useStreamEvent('graph', live, (data) => graph.setData(() => data));
  const { layout, error: layoutError, fitSignal, tidy } = useGraphLayout(graph.data);
  const health = useCollectorHealth();

  const select = useCallback(
    (next: Selection) => {
      setParams(
        (current) => {
          const p = new URLSearchParams(current);
          const text = formatSelection(next);
          if (text) p.set('selected', text);
          else p.delete('selected');
          return p;
        },
        { replace: false },
      );
    },
    [setParams],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape' && selection) select(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [selection, select]);

  const data = graph.data;
  // Calls added since the last full layout are drawn as curves; a tidy layout routes them.
  const stale = data !== undefined && layout !== undefined && data.edges.some((e) => layout.nodes.has(e.from) && layout.nodes.has(e.to) && !layout.edges.has(e.id));
  return (
    <section className="view graph-view">
      <div className="view-header">
        <h1 tabIndex={-1}>Service graph</h1>
        <p className="subtitle">
          {data ? (
            <>
              {data.nodes.length} services, {data.edges.length} calls · {formatTime(data.window.from)} – {formatTime(data.window.to)}
              {live ? ' · updating live' : refreshMs ? ' · refreshing every 5 s' : ''}
            </>
          ) : (
            'Who calls whom, how often, how fast, and where failures start.'
          )}
        </p>
        <div className="view-actions">
          {stale ? (
            <span className="muted small" role="status">
              New services were placed beside the layout.
            </span>
          ) : null}
          <button
            type="button"
            className={`button${stale ? ' primary' : ''}`}
            onClick={tidy}
            disabled={!data || data.nodes.length === 0}
            title="Lay the whole graph out again"
          >
            Tidy layout
          </button>
        </div>
      </div>
      <div className="graph-layout">
        <div className="graph-main">
          {data === undefined ? (
            graph.error ? (
              <ErrorState error={graph.error} onRetry={graph.reload} />
            ) : (
              <Loading what="the service graph" />
            )
          ) : data.nodes.length === 0 ? (
            health?.spansStored === 0 ? (
              <Empty title="No spans yet — is the mesh sending to :4318?">
                <NoSpansHint />
              </Empty>
            ) : (
              <Empty title="No calls in this window">
                The collector has spans, but none in this window{timeWindow.run ? ` for run ${timeWindow.run}` : ''}. Pick a wider window in the header.
              </Empty>
            )
          ) : layoutError ? (
            <div className="state state-error" role="alert">
              {layoutError}
            </div>
          ) : layout === undefined ? (
            <Loading what="the layout" />
          ) : (
            <GraphCanvas graph={data} layout={layout} selection={selection} onSelect={select} fitSignal={fitSignal} label="Service graph" />
          )}
          {graph.error && data ? <ErrorState error={graph.error} onRetry={graph.reload} /> : null}
          <Legend />
        </div>
        <aside className="side-panel" aria-label="Details">
          {selection?.kind === 'node' && data ? (
            <NodePanel service={selection.id} graph={data} onSelect={select} />
          ) : selection?.kind === 'edge' && data ? (
            <EdgePanel edgeId={selection.id} graph={data} onSelect={select} />
          ) : (
            <FailureStarts />
          )}
        </aside>
      </div>
    </section>
  );
}

const LEGEND: readonly { mark: ReactNode; text: string }[] = [
  { mark: <span className="swatch health-ok" />, text: 'healthy' },
  { mark: <span className="swatch health-degraded" />, text: 'degraded' },
  { mark: <span className="swatch health-failing" />, text: 'failing' },
  { mark: <span className="swatch health-idle" />, text: 'idle' },
  { mark: <span className="mark-origin">◆ origin</span>, text: 'failures start here' },
  { mark: <span className="mark-propagated">passes on</span>, text: 'only propagated failures' },
  { mark: <span className="dash" />, text: 'errors passed back from further down' },
];

function Legend() {
  return (
    <div className="legend-bar" aria-label="Legend">
      {LEGEND.map(({ mark, text }) => (
        <span key={text} className="legend-item">
          {mark} {text}
        </span>
      ))}
    </div>
  );
}

/** With nothing selected: the failure points of the window, so the origin is one click away. */
function FailureStarts() {
  const [params] = useSearchParams();
  const timeWindow = readWindow(params);
  const streamStatus = useStreamStatus();
  const live = isStreamWindow(timeWindow) && streamStatus === 'live';
  const failures = useApi<FailuresResponse>(apiUrl(QUERY_API.failures, { ...windowApiParams(timeWindow), limit: 6 }), timeWindow.kind === 'lookback' ? 5000 : undefined);
  useStreamEvent('failure', live, (point) =>
    failures.setData((prev) => {
      if (!prev) return prev;
      const others = prev.points.filter((p) => p.id !== point.id);
      return { ...prev, points: [point, ...others].sort((a, b) => b.count - a.count).slice(0, 6) };
    }),
  );
  const carry = windowQuery(params);
  return (
    <div className="panel" data-testid="failure-starts">
      <h2>Where failures start</h2>
      {failures.data === undefined ? (
        failures.error ? (
          <ErrorState error={failures.error} onRetry={failures.reload} />
        ) : (
          <Loading what="failure points" />
        )
      ) : failures.data.points.length === 0 ? (
        <p className="muted">No failed requests in this window. Click a service or a call for its details.</p>
      ) : (
        <ol className="failure-list">
          {failures.data.points.map((p) => (
            <li key={p.id} className="failure-item">
              <div className="failure-head">
                <strong>{p.service}</strong> <span className="op">{p.operation}</span>
              </div>
              <div className="failure-line">
                <ReasonBadge reason={p.reason} /> {formatCount(p.count)}× · last {formatAgo(p.lastSeenMs)}
              </div>
              {p.propagatedBy.length > 0 ? <div className="muted small">passed on by {p.propagatedBy.join(' → ')}</div> : null}
              <div className="failure-links">
                {p.exampleTraceIds[0] ? (
                  <Link to={`/traces/${p.exampleTraceIds[0]}${carry}`} className="link-strong" data-testid="failure-example">
                    Latest failed trace →
                  </Link>
                ) : null}
                <Link to={`/failures${carry ? carry + '&' : '?'}service=${encodeURIComponent(p.service)}`}>all of {p.service}</Link>
              </div>
            </li>
          ))}
        </ol>
      )}
      <p className="muted small">Click a service for its operations, pods and failure points; click a call (the label on an arrow) for its failed traces.</p>
    </div>
  );
}
