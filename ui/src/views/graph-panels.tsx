// Side panels of the graph: a service (operations, pods, failure points, callers and callees) and a call
// between two services (rates, reasons in words, version split, its failed traces).
import { Link, useSearchParams } from 'react-router';
import { QUERY_API, REASON_HINTS, type FailureReason, type FailuresResponse, type GraphResponse, type MeshResponse, type ServicesResponse, type TraceSearchResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { HealthBadge, ReasonBadge } from '../components/badges.tsx';
import { nodeRole, type Selection } from '../components/graph-canvas.tsx';
import { RedStats, Stat } from '../components/stats.tsx';
import { ErrorState, Loading } from '../components/states.tsx';
import { formatAgo, formatBytes, formatCount, formatMs, formatPercent, formatRate } from '../format.ts';
import { readWindow, windowApiParams, windowQuery } from '../time-window.ts';
import { useApi } from '../use-api.ts';

/** Links keep the time window; `extra` adds the view's own parameters. */
function withWindow(path: string, carry: string, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams(carry.slice(1));
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const text = p.toString();
  return text ? `${path}?${text}` : path;
}

export function NodePanel({ service, graph, onSelect }: { service: string; graph: GraphResponse; onSelect: (s: Selection) => void }) {
  const [params] = useSearchParams();
  const timeWindow = readWindow(params);
  const carry = windowQuery(params);
  const node = graph.nodes.find((n) => n.service === service);
  const failures = useApi<FailuresResponse>(apiUrl(QUERY_API.failures, { ...windowApiParams(timeWindow), service, limit: 20 }));
  const services = useApi<ServicesResponse>(apiUrl(QUERY_API.services));
  const mesh = useApi<MeshResponse>(apiUrl(QUERY_API.mesh));
  if (!node) {
    return (
      <div className="panel">
        <h2>{service}</h2>
        <p className="muted">No calls to or from {service} in this window. Pick a wider window in the header.</p>
      </div>
    );
  }
  const role = nodeRole(node);
  const callers = graph.edges.filter((e) => e.to === service);
  const callees = graph.edges.filter((e) => e.from === service);
  const summary = services.data?.services.find((s) => s.name === service);
  const pods = mesh.data?.pods.filter((p) => p.service === service) ?? [];
  const ownPoints = failures.data?.points.filter((p) => p.service === service) ?? [];
  return (
    <div className="panel" data-testid="node-panel">
      <div className="panel-head">
        <h2>{service}</h2>
        <HealthBadge health={node.health} />
        <button type="button" className="button ghost close" aria-label="Close details" onClick={() => onSelect(null)}>
          ×
        </button>
      </div>
      {role === 'origin' ? (
        <p className="callout callout-origin" data-testid="node-role">
          ◆ <strong>{formatCount(node.originFailures)}</strong> failures started in {service} in this window.
        </p>
      ) : role === 'propagated' ? (
        <p className="callout callout-propagated" data-testid="node-role">
          {service} only passed on <strong>{formatCount(node.propagatedFailures)}</strong> failures that started in services it calls.
        </p>
      ) : null}
      {node.dropsContext ? (
        <p className="callout callout-warn">
          ⚠ {service} makes outbound calls without passing on the trace context, so what it calls shows up as separate traces. Forward the{' '}
          <code>traceparent</code> header from the request it is serving.
        </p>
      ) : null}
      <RedStats figures={node}>
        {node.versions.length > 0 ? <Stat label="versions" value={node.versions.join(', ')} /> : null}
        <Stat label="entry" value={node.entry ? 'yes, called from outside' : 'no'} />
      </RedStats>
      <div className="panel-links">
        <Link className="button" to={withWindow('/traces', carry, { service, status: 'error' })}>
          Failed traces
        </Link>
        <Link className="button ghost" to={withWindow('/traces', carry, { service })}>
          All traces
        </Link>
        <Link className="button ghost" to={withWindow('/failures', carry, { service })}>
          Failures
        </Link>
      </div>

      <h3>Failure points</h3>
      {failures.data === undefined ? (
        failures.error ? <ErrorState error={failures.error} onRetry={failures.reload} /> : <Loading what="failure points" />
      ) : ownPoints.length === 0 ? (
        <p className="muted">No failure started in {service} in this window.</p>
      ) : (
        <ul className="plain-list" data-testid="node-failure-points">
          {ownPoints.map((p) => (
            <li key={p.id}>
              <ReasonBadge reason={p.reason} /> <span className="op">{p.operation}</span> · {formatCount(p.count)}× · last {formatAgo(p.lastSeenMs)}
              {p.exampleTraceIds[0] ? (
                <>
                  {' '}
                  · <Link to={`/traces/${p.exampleTraceIds[0]}${carry}`}>trace →</Link>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      )}

      <h3>Operations</h3>
      {services.data === undefined ? (
        services.error ? <ErrorState error={services.error} onRetry={services.reload} /> : <Loading what="operations" />
      ) : !summary || summary.operations.length === 0 ? (
        <p className="muted">No spans of its own (only seen as a callee).</p>
      ) : (
        <ul className="plain-list" data-testid="node-operations">
          {summary.operations.slice(0, 15).map((op) => (
            <li key={op}>
              <Link to={withWindow('/traces', carry, { service, operation: op })}>{op}</Link>
            </li>
          ))}
          {summary.operations.length > 15 ? <li className="muted">and {summary.operations.length - 15} more</li> : null}
        </ul>
      )}

      <h3>Pods</h3>
      {mesh.data === undefined ? (
        mesh.error ? <ErrorState error={mesh.error} onRetry={mesh.reload} /> : <Loading what="pods" />
      ) : pods.length === 0 ? (
        <p className="muted">No pod reported by the runtime (standalone sidecars have none).</p>
      ) : (
        <table className="table compact" data-testid="node-pods">
          <thead>
            <tr>
              <th>pod</th>
              <th>IP</th>
              <th>state</th>
              <th>restarts</th>
              <th>memory</th>
            </tr>
          </thead>
          <tbody>
            {pods.map((p) => (
              <tr key={`${p.mesh}/${p.pod}`}>
                <td>
                  <Link to={`/mesh?pod=${encodeURIComponent(p.pod)}`}>{p.pod}</Link>
                </td>
                <td className="mono">{p.ip ?? '–'}</td>
                <td>
                  <span className={`badge state-${p.state}`}>{p.state}</span>
                </td>
                <td className={p.restarts > 0 ? 'warn-text' : ''}>{p.restarts}</td>
                <td>{p.memoryBytes !== undefined ? formatBytes(p.memoryBytes) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>Calls</h3>
      <ul className="plain-list">
        {callers.map((e) => (
          <li key={e.id}>
            ← from{' '}
            <button type="button" className="linklike" onClick={() => onSelect({ kind: 'node', id: e.from })}>
              {e.from}
            </button>{' '}
            <button type="button" className="linklike muted" onClick={() => onSelect({ kind: 'edge', id: e.id })}>
              {formatRate(e.ratePerSecond)}, {formatPercent(e.errorRate)} errors
            </button>
          </li>
        ))}
        {callees.map((e) => (
          <li key={e.id}>
            → to{' '}
            <button type="button" className="linklike" onClick={() => onSelect({ kind: 'node', id: e.to })}>
              {e.to}
            </button>{' '}
            <button type="button" className="linklike muted" onClick={() => onSelect({ kind: 'edge', id: e.id })}>
              {formatRate(e.ratePerSecond)}, {formatPercent(e.errorRate)} errors
            </button>
          </li>
        ))}
        {callers.length + callees.length === 0 ? <li className="muted">No calls in this window.</li> : null}
      </ul>
    </div>
  );
}

export function EdgePanel({ edgeId, graph, onSelect }: { edgeId: string; graph: GraphResponse; onSelect: (s: Selection) => void }) {
  const [params] = useSearchParams();
  const timeWindow = readWindow(params);
  const carry = windowQuery(params);
  const edge = graph.edges.find((e) => e.id === edgeId);
  // The failed traces that went over this call: the caller's spans that name the callee as their peer.
  const search = edge ? { service: edge.from, status: 'error', attr: [`meshlet.peer.service=${edge.to}`] } : {};
  const traces = useApi<TraceSearchResponse>(edge ? apiUrl(QUERY_API.traces, { ...windowApiParams(timeWindow), ...search, limit: 10 }) : null);
  if (!edge) {
    return (
      <div className="panel">
        <h2>{edgeId.replace('->', ' → ')}</h2>
        <p className="muted">No such call in this window. Pick a wider window in the header.</p>
      </div>
    );
  }
  const reasons = Object.entries(edge.reasons).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)) as [FailureReason, number][];
  const versions = Object.entries(edge.versions).sort((a, b) => b[1] - a[1]);
  const versionTotal = versions.reduce((sum, [, n]) => sum + n, 0);
  const searchLink = withWindow('/traces', carry, { service: edge.from, status: 'error', attr: `meshlet.peer.service=${edge.to}` });
  return (
    <div className="panel" data-testid="edge-panel">
      <div className="panel-head">
        <h2>
          <button type="button" className="linklike" onClick={() => onSelect({ kind: 'node', id: edge.from })}>
            {edge.from}
          </button>{' '}
          →{' '}
          <button type="button" className="linklike" onClick={() => onSelect({ kind: 'node', id: edge.to })}>
            {edge.to}
          </button>
        </h2>
        <HealthBadge health={edge.health} />
        <button type="button" className="button ghost close" aria-label="Close details" onClick={() => onSelect(null)}>
          ×
        </button>
      </div>
      {edge.errors > 0 ? (
        edge.originFailures > 0 ? (
          <p className="callout callout-origin">
            ◆ {formatCount(edge.originFailures)} of {formatCount(edge.errors)} failed calls started at {edge.to} (or beyond it).
          </p>
        ) : (
          <p className="callout callout-propagated">
            These {formatCount(edge.errors)} failed calls only carried back failures that started further downstream of {edge.to}.
          </p>
        )
      ) : null}
      <RedStats figures={edge}>
        <Stat label="retries" value={formatCount(edge.retries)} />
        <Stat label="recovered by retry" value={formatCount(edge.recovered)} />
      </RedStats>
      {reasons.length > 0 ? (
        <>
          <h3>Why calls failed</h3>
          <ul className="plain-list reasons">
            {reasons.map(([reason, count]) => (
              <li key={reason}>
                <ReasonBadge reason={reason} /> {formatCount(count)}×<div className="hint">{REASON_HINTS[reason]}</div>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {versions.length > 0 ? (
        <>
          <h3>Versions of {edge.to}</h3>
          <div className="version-split" role="img" aria-label={versions.map(([v, n]) => `${v} ${Math.round((n / versionTotal) * 100)} %`).join(', ')}>
            {versions.map(([v, n], i) => (
              <span key={v} className={`version-part version-${i % 4}`} style={{ flexGrow: n }}>
                {v} {Math.round((n / versionTotal) * 100)} %
              </span>
            ))}
          </div>
        </>
      ) : null}
      <h3>Failed traces over this call</h3>
      {edge.errors === 0 ? (
        <p className="muted">No failed calls in this window.</p>
      ) : traces.data === undefined ? (
        traces.error ? <ErrorState error={traces.error} onRetry={traces.reload} /> : <Loading what="failed traces" />
      ) : traces.data.traces.length === 0 ? (
        <p className="muted">None found with a span of {edge.from} naming {edge.to}; try the search below.</p>
      ) : (
        <ul className="trace-list" data-testid="edge-traces">
          {traces.data.traces.map((t) => (
            <li key={t.traceId}>
              <Link to={`/traces/${t.traceId}${carry}`} className="trace-link" data-testid="edge-trace-link">
                <span className="op">
                  {t.rootService} {t.rootOperation}
                </span>
                <span className="muted">
                  {formatAgo(t.startMs)} · {formatMs(t.durationMs)}
                </span>
                {t.origins[0] ? (
                  <span className="small">
                    ◆ {t.origins[0].service} · {t.origins[0].reason.replace(/_/g, ' ')}
                  </span>
                ) : null}
              </Link>
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to={searchLink}>Search all failed traces over this call →</Link>
      </p>
    </div>
  );
}
