// One trace: the span waterfall with the origin badged and the propagation path highlighted, the critical
// path on request, the selected span's attributes and failure reason in words, and the trace's logs and
// the infrastructure events around it, inline at their times. State: `?span=<id>&cp=1&collapsed=<ids>`.
import { useEffect, useMemo, useRef } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { QUERY_API, type AttributeValue, type LogView, type SpanView, type TraceDetail } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { hintFor, OriginBadge, PropagatedBadge, ReasonBadge } from '../components/badges.tsx';
import { serviceHue } from '../components/service-colour.ts';
import { ErrorState, Loading } from '../components/states.tsx';
import { eventLabel, formatMs, formatTime, formatTimeMs } from '../format.ts';
import { windowQuery } from '../time-window.ts';
import { ancestors, blamedService, buildWaterfall, offsetMs, operationOf, type WaterfallRow } from '../trace-model.ts';
import { useApi } from '../use-api.ts';

export function TraceView() {
  const { traceId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const valid = /^[0-9a-f]{32}$/i.test(traceId);
  const trace = useApi<TraceDetail>(valid ? apiUrl(QUERY_API.trace(traceId.toLowerCase())) : null);
  const carry = windowQuery(params);

  if (!valid) {
    return (
      <section className="view">
        <h1 tabIndex={-1}>Not a trace id</h1>
        <p>
          <code>{traceId}</code> is not a trace id: those are 32 hexadecimal characters. <Link to={`/traces${carry}`}>Search traces</Link> instead.
        </p>
      </section>
    );
  }
  if (trace.data === undefined) {
    return (
      <section className="view">
        <h1 tabIndex={-1}>Trace {traceId.slice(0, 12)}…</h1>
        {trace.error ? (
          trace.error.status === 404 ? (
            <div className="state state-empty" role="status" data-testid="empty-state">
              <strong>No trace {traceId} in the collector.</strong>
              <div className="state-detail">
                It may not have arrived yet (sidecars send in batches every few seconds), or retention removed it.{' '}
                <button type="button" className="button" onClick={trace.reload}>
                  Look again
                </button>{' '}
                or <Link to={`/traces${carry}`}>search traces</Link>.
              </div>
            </div>
          ) : (
            <ErrorState error={trace.error} onRetry={trace.reload} />
          )
        ) : (
          <Loading what="the trace" />
        )}
      </section>
    );
  }
  return <TraceBody trace={trace.data} params={params} setParams={setParams} />;
}

function TraceBody({
  trace,
  params,
  setParams,
}: {
  trace: TraceDetail;
  params: URLSearchParams;
  setParams: (p: URLSearchParams, o?: { replace?: boolean }) => void;
}) {
  const model = useMemo(() => buildWaterfall(trace), [trace]);
  const byId = useMemo(() => new Map(trace.spans.map((s) => [s.spanId, s])), [trace]);
  const origins = new Set(trace.origins);
  const onPath = new Set(trace.propagation);
  const critical = new Set(trace.criticalPath);
  const showCritical = params.get('cp') === '1';
  const collapsed = new Set((params.get('collapsed') ?? '').split(',').filter(Boolean));
  const firstOrigin = trace.origins.find((id) => byId.has(id));
  const root = model.rows[0]?.span;
  const selectedId = params.get('span') && byId.has(params.get('span')!) ? params.get('span')! : (firstOrigin ?? root?.spanId);
  const selected = selectedId ? byId.get(selectedId) : undefined;

  // Rows under a collapsed span are hidden — unless the selected span is among them.
  const openPath = new Set(selectedId ? ancestors(trace, selectedId) : []);
  const visible: WaterfallRow[] = [];
  let hideBelow: number | undefined;
  for (const row of model.rows) {
    if (hideBelow !== undefined && row.depth > hideBelow) continue;
    hideBelow = undefined;
    visible.push(row);
    if (collapsed.has(row.span.spanId) && !openPath.has(row.span.spanId)) hideBelow = row.depth;
  }

  const update = (change: (p: URLSearchParams) => void, replace = true): void => {
    const next = new URLSearchParams(params);
    change(next);
    setParams(next, { replace });
  };
  const selectSpan = (id: string): void => update((p) => p.set('span', id));
  const toggleCollapsed = (id: string): void =>
    update((p) => {
      const set = new Set(collapsed);
      if (set.has(id)) set.delete(id);
      else set.add(id);
      if (set.size > 0) p.set('collapsed', [...set].join(','));
      else p.delete('collapsed');
    });
  const toggleCritical = (): void =>
    update((p) => {
      if (showCritical) p.delete('cp');
      else p.set('cp', '1');
    }, false);

  // Keyboard: ↑/↓ or j/k move between spans, c toggles the critical path, o jumps to the origin.
  const stateRef = useRef({ visible, selectedId, firstOrigin, toggleCritical, selectSpan });
  stateRef.current = { visible, selectedId, firstOrigin, toggleCritical, selectSpan };
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const target = e.target as HTMLElement | null;
      if (target && ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return;
      const s = stateRef.current;
      const index = s.visible.findIndex((r) => r.span.spanId === s.selectedId);
      if (e.key === 'ArrowDown' || e.key === 'j' || e.key === 'ArrowUp' || e.key === 'k') {
        const step = e.key === 'ArrowDown' || e.key === 'j' ? 1 : -1;
        const next = s.visible[Math.min(s.visible.length - 1, Math.max(0, index + step))];
        if (next) {
          e.preventDefault();
          s.selectSpan(next.span.spanId);
          document.querySelector<HTMLElement>(`[data-span="${next.span.spanId}"] .span-button`)?.focus();
        }
      } else if (e.key === 'c') {
        s.toggleCritical();
      } else if (e.key === 'o' && s.firstOrigin) {
        s.selectSpan(s.firstOrigin);
        document.querySelector<HTMLElement>(`[data-span="${s.firstOrigin}"] .span-button`)?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // A deep link to a span scrolls it into view once.
  const scrolled = useRef(false);
  useEffect(() => {
    if (scrolled.current || !selectedId) return;
    scrolled.current = true;
    document.querySelector(`[data-span="${selectedId}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [selectedId]);

  const total = Math.max(trace.durationMs, 0.001);
  // A trace failed when a failure started in it (or its root failed); an attempt that a retry recovered does not count.
  const rootSpan = root;
  const failed = trace.origins.length > 0 || rootSpan?.status.code === 'error';
  const services = [...new Set(trace.spans.map((s) => s.service))];
  const originSpans = trace.origins.map((id) => byId.get(id)).filter((s): s is SpanView => s !== undefined);

  return (
    <section className="view trace-view">
      <div className="view-header">
        <h1 tabIndex={-1}>
          {rootSpan ? (
            <>
              {rootSpan.service} <span className="op">{rootSpan.name}</span>
            </>
          ) : (
            'Trace'
          )}
        </h1>
        <p className="subtitle">
          <span className="mono">{trace.traceId}</span> · {formatTime(trace.startMs)} · {formatMs(trace.durationMs)} · {trace.spans.length} spans ·{' '}
          {services.length} services · <span className={`badge status-${failed ? 'error' : 'ok'}`}>{failed ? 'failed' : 'ok'}</span>
        </p>
        <div className="view-actions">
          <label className="toggle">
            <input type="checkbox" checked={showCritical} onChange={toggleCritical} data-testid="critical-toggle" />
            Critical path <kbd>c</kbd>
          </label>
          <a className="button ghost" href={apiUrl(QUERY_API.trace(trace.traceId))} target="_blank" rel="noreferrer">
            JSON
          </a>
        </div>
      </div>
      {originSpans.length > 0 ? (
        <div className="callout callout-origin origin-summary" data-testid="origin-summary">
          {originSpans.map((s) => (
            <div key={s.spanId}>
              ◆ The failure started in <strong>{blamedService(s)}</strong> · <span className="op">{operationOf(s)}</span>
              {blamedService(s) !== s.service ? <span className="muted"> (recorded by {s.service}’s sidecar)</span> : null}
              {s.reason ? (
                <>
                  {' '}
                  — <ReasonBadge reason={s.reason} /> {hintFor(s.reason)}
                </>
              ) : null}{' '}
              {trace.propagation.length > 0 ? <span className="muted">It travelled up through {describePath(trace, s.spanId, byId)}.</span> : null}{' '}
              {s.spanId !== selectedId ? (
                <button type="button" className="button" onClick={() => selectSpan(s.spanId)}>
                  Show origin span <kbd>o</kbd>
                </button>
              ) : null}
            </div>
          ))}
        </div>
      ) : null}
      {trace.dropsContext.length > 0 ? (
        <p className="callout callout-warn">
          ⚠ {trace.dropsContext.join(', ')} made calls without passing on the trace context: those calls are in separate traces, not here.
        </p>
      ) : null}
      <div className="trace-layout">
        <div className="waterfall" role="tree" aria-label="Spans of the trace" data-testid="waterfall">
          <TimeAxis totalMs={total} />
          {trace.events.length > 0 || model.looseLogs.length > 0 ? (
            <div className="lane" data-testid="infra-lane">
              {[...trace.events, ...model.looseLogs].map((log, i) => (
                <LogLine key={`${log.timeUnixNano}-${i}`} log={log} startNano={model.startNano} totalMs={total} depth={0} infra={log.eventName !== undefined} />
              ))}
            </div>
          ) : null}
          {visible.map((row) => {
            const s = row.span;
            const isOrigin = origins.has(s.spanId) || s.role === 'origin';
            const isPath = onPath.has(s.spanId) || s.role === 'propagated';
            const isCritical = critical.has(s.spanId);
            const left = (Math.max(0, s.startOffsetMs) / total) * 100;
            const width = Math.max(0.25, (s.durationMs / total) * 100);
            const classes = [
              'span-row',
              s.status.code === 'error' ? 'error' : '',
              isOrigin ? 'is-origin' : '',
              isPath && !isOrigin ? 'on-path' : '',
              showCritical ? (isCritical ? 'critical' : 'off-critical') : '',
              s.spanId === selectedId ? 'selected' : '',
            ]
              .filter(Boolean)
              .join(' ');
            return (
              <div key={s.spanId} className="span-group" role="treeitem" aria-level={row.depth + 1} aria-selected={s.spanId === selectedId} aria-expanded={row.childCount > 0 ? !collapsed.has(s.spanId) : undefined}>
                <div className={classes} data-span={s.spanId} data-service={s.service} data-testid="span-row" data-role={isOrigin ? 'origin' : isPath ? 'propagated' : 'none'}>
                  <div className="span-label" style={{ paddingLeft: `${row.depth * 14 + 4}px` }}>
                    {row.childCount > 0 ? (
                      <button
                        type="button"
                        className="twisty"
                        aria-label={collapsed.has(s.spanId) ? `Expand ${row.childCount} child spans` : `Collapse ${row.childCount} child spans`}
                        onClick={() => toggleCollapsed(s.spanId)}
                      >
                        {collapsed.has(s.spanId) ? '▸' : '▾'}
                      </button>
                    ) : (
                      <span className="twisty-space" />
                    )}
                    <button type="button" className="span-button" onClick={() => selectSpan(s.spanId)} aria-current={s.spanId === selectedId}>
                      <span className="svc-chip" style={{ ['--hue' as string]: serviceHue(s.service) }}>
                        {s.service}
                      </span>
                      <span className="span-name">{s.name}</span>
                      <span className="span-kind">{s.kind}</span>
                      {s.attributes['meshlet.retry.attempt'] !== undefined ? <span className="badge">#{renderValue(s.attributes['meshlet.retry.attempt'])}</span> : null}
                      {row.orphan ? <span className="badge" title="Its parent span is not in this trace (lost or late)">orphan</span> : null}
                    </button>
                    <span className="span-marks">
                      {isOrigin ? (
                        <OriginBadge {...(s.reason ? { title: `The failure started here: ${s.reason.replace(/_/g, ' ')}` } : {})} />
                      ) : isPath ? (
                        <PropagatedBadge compact />
                      ) : s.recovered ? (
                        <span className="badge recovered" title={`This attempt failed${s.reason ? ` (${s.reason.replace(/_/g, ' ')})` : ''}, but a retry recovered the request`}>
                          recovered
                        </span>
                      ) : s.status.code === 'error' && s.reason ? (
                        <ReasonBadge reason={s.reason} />
                      ) : null}
                      {s.attributes['meshlet.fault.injected'] === true ? <span className="badge fault">fault</span> : null}
                    </span>
                  </div>
                  <div className="span-timeline">
                    <div className="span-bar" style={{ left: `${left}%`, width: `${width}%`, ['--hue' as string]: serviceHue(s.service) }} />
                    {/* The duration sits right of the bar, or inside its end when the bar reaches the right edge. */}
                    <span
                      className={`span-duration${left + width > 82 ? ' inside' : ''}`}
                      style={left + width > 82 ? { right: `${Math.max(0, 100 - left - width) + 0.4}%` } : { left: `${left + width + 0.5}%` }}
                    >
                      {formatMs(s.durationMs)}
                    </span>
                  </div>
                </div>
                {row.logs.map((log, i) => (
                  <LogLine key={`${log.timeUnixNano}-${i}`} log={log} startNano={model.startNano} totalMs={total} depth={row.depth + 1} infra={false} />
                ))}
              </div>
            );
          })}
        </div>
        <aside className="side-panel span-panel" aria-label="Span details">
          {selected ? <SpanDetail span={selected} trace={trace} onSelect={selectSpan} originIds={origins} startNano={model.startNano} /> : null}
        </aside>
      </div>
    </section>
  );
}

/** "cart → gateway" for the spans that passed an origin's failure up (service names, deduplicated in order). */
function describePath(trace: TraceDetail, originId: string, byId: Map<string, SpanView>): string {
  const path = new Set(trace.propagation);
  const names: string[] = [];
  for (const id of ancestors(trace, originId)) {
    const span = byId.get(id);
    if (span && path.has(id) && names[names.length - 1] !== span.service) names.push(span.service);
  }
  const origin = byId.get(originId);
  const blamed = origin ? blamedService(origin) : undefined;
  const chain = names.filter((n, i) => !(i === 0 && n === blamed));
  return chain.length > 0 ? chain.join(' → ') : 'its callers';
}

function TimeAxis({ totalMs }: { totalMs: number }) {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="time-axis" aria-hidden="true">
      <div className="span-label" />
      <div className="span-timeline">
        {ticks.map((f) => (
          <span key={f} className="tick" style={f === 1 ? { right: 0 } : { left: `${f * 100}%` }}>
            {formatMs(totalMs * f)}
          </span>
        ))}
      </div>
    </div>
  );
}

function severityClass(log: LogView): string {
  const n = log.severityNumber;
  return n >= 17 ? 'sev-error' : n >= 13 ? 'sev-warn' : 'sev-info';
}

/** A log record or infrastructure event as a row, with a mark on the timeline at its time. */
function LogLine({ log, startNano, totalMs, depth, infra }: { log: LogView; startNano: bigint; totalMs: number; depth: number; infra: boolean }) {
  const at = offsetMs(log.timeUnixNano, startNano);
  const inside = at >= 0 && at <= totalMs;
  const pct = Math.min(100, Math.max(0, (at / totalMs) * 100));
  const when = inside ? `+${formatMs(at)}` : at < 0 ? `${formatMs(-at)} before` : `${formatMs(at - totalMs)} after`;
  const detail = infra ? infraDetail(log) : '';
  return (
    <div className={`log-row ${severityClass(log)}${infra ? ' infra' : ''}`} data-testid={infra ? 'infra-event' : 'log-line'} role="note">
      <div className="span-label log-text" style={{ paddingLeft: `${depth * 14 + 26}px` }}>
        <span className="log-time" title={formatTimeMs(log.timeMs)}>
          {when}
        </span>{' '}
        {infra ? (
          <>
            <span className="badge infra-badge">{eventLabel(log.eventName ?? '')}</span> <strong>{log.pod ?? log.service}</strong> {detail}
          </>
        ) : (
          <>
            <span className="log-sev">{log.severityText || 'LOG'}</span> <span className="log-service">{log.service}</span> {log.body}
          </>
        )}
      </div>
      <div className="span-timeline">
        <span className={`log-mark${inside ? '' : at < 0 ? ' before' : ' after'}`} style={{ left: `${pct}%` }} title={`${when}: ${log.body}`} />
      </div>
    </div>
  );
}

function infraDetail(log: LogView): string {
  const a = log.attributes;
  const bits: string[] = [];
  if (a['meshlet.pod.restart_reason'] !== undefined) bits.push(`reason ${renderValue(a['meshlet.pod.restart_reason'])}`);
  if (a['meshlet.pod.restarts'] !== undefined) bits.push(`restarts ${renderValue(a['meshlet.pod.restarts'])}`);
  if (a['meshlet.pod.exit_code'] !== undefined) bits.push(`exit code ${renderValue(a['meshlet.pod.exit_code'])}`);
  if (a['meshlet.health.status'] !== undefined) bits.push(`health ${renderValue(a['meshlet.health.status'])}`);
  if (a['meshlet.health.detail'] !== undefined) bits.push(renderValue(a['meshlet.health.detail']));
  if (a['meshlet.cgroup.throttled_seconds'] !== undefined) bits.push(`throttled ${renderValue(a['meshlet.cgroup.throttled_seconds'])} s`);
  if (bits.length === 0 && log.body) bits.push(log.body);
  return bits.join(' · ');
}

function SpanDetail({
  span,
  trace,
  onSelect,
  originIds,
  startNano,
}: {
  span: SpanView;
  trace: TraceDetail;
  onSelect: (id: string) => void;
  originIds: Set<string>;
  startNano: bigint;
}) {
  const isOrigin = originIds.has(span.spanId) || span.role === 'origin';
  const logs = trace.logs.filter((l) => l.spanId === span.spanId);
  const attributes = Object.entries(span.attributes).sort(([a], [b]) => Number(!a.startsWith('meshlet.')) - Number(!b.startsWith('meshlet.')) || a.localeCompare(b));
  const parent = span.parentSpanId ? trace.spans.find((s) => s.spanId === span.parentSpanId) : undefined;
  const originBelow = !isOrigin && span.role === 'propagated' ? trace.origins.find((id) => ancestors(trace, id).includes(span.spanId)) : undefined;
  return (
    <div className="panel" data-testid="span-detail">
      <div className="panel-head">
        <h2>
          <span className="svc-chip" style={{ ['--hue' as string]: serviceHue(span.service) }}>
            {span.service}
          </span>{' '}
          {span.name}
        </h2>
      </div>
      {isOrigin ? (
        <div className="callout callout-origin" data-testid="span-origin-callout">
          <OriginBadge label="origin of the failure" />
          {blamedService(span) !== span.service ? (
            <p>
              The failure of this request started here: {span.service}’s sidecar could not get an answer from <strong>{blamedService(span)}</strong>
              {span.reason ? ` (${span.reason.replace(/_/g, ' ')})` : ''}, so it is blamed on {blamedService(span)}.
            </p>
          ) : (
            <p>
              The failure of this request started here{span.errorOrigin === 'app' ? ', in the service’s own code' : span.errorOrigin === 'proxy' ? ', in the mesh proxy' : ''}.
            </p>
          )}
        </div>
      ) : span.role === 'propagated' ? (
        <div className="callout callout-propagated">
          <PropagatedBadge /> This span failed only because something it called failed.
          {originBelow ? (
            <>
              {' '}
              <button type="button" className="linklike" onClick={() => onSelect(originBelow)}>
                Go to the origin
              </button>
              .
            </>
          ) : null}
        </div>
      ) : null}
      {span.reason ? (
        <div className="reason-block" data-testid="span-reason">
          <ReasonBadge reason={span.reason} /> <span className="muted">x-meshlet-error: {span.reason}</span>
          <p className="hint">{hintFor(span.reason)}</p>
        </div>
      ) : null}
      {span.recovered ? <p className="callout callout-ok">This attempt failed, but a retry recovered the request.</p> : null}
      <dl className="kv">
        <dt>status</dt>
        <dd>
          <span className={`badge status-${span.status.code === 'error' ? 'error' : 'ok'}`}>{span.status.code}</span> {span.status.message ?? ''}
        </dd>
        <dt>kind</dt>
        <dd>{span.kind}</dd>
        <dt>duration</dt>
        <dd>{formatMs(span.durationMs)}</dd>
        <dt>starts</dt>
        <dd>
          +{formatMs(span.startOffsetMs)} ({formatTimeMs(trace.startMs + span.startOffsetMs)})
        </dd>
        {span.pod ? (
          <>
            <dt>pod</dt>
            <dd>
              <Link to={`/mesh?pod=${encodeURIComponent(span.pod)}`}>{span.pod}</Link>
            </dd>
          </>
        ) : null}
        {span.version ? (
          <>
            <dt>version</dt>
            <dd>{span.version}</dd>
          </>
        ) : null}
        {parent ? (
          <>
            <dt>parent</dt>
            <dd>
              <button type="button" className="linklike" onClick={() => onSelect(parent.spanId)}>
                {parent.service} {parent.name}
              </button>
            </dd>
          </>
        ) : null}
        <dt>span id</dt>
        <dd className="mono">{span.spanId}</dd>
      </dl>
      <h3>Logs of this span</h3>
      {logs.length === 0 ? (
        <p className="muted">No log record carries this span id.</p>
      ) : (
        <ul className="log-list" data-testid="span-logs">
          {logs.map((l, i) => (
            <li key={i} className={severityClass(l)}>
              <span className="log-time">+{formatMs(offsetMs(l.timeUnixNano, startNano))}</span> <span className="log-sev">{l.severityText || 'LOG'}</span> {l.body}
            </li>
          ))}
        </ul>
      )}
      <h3>Attributes</h3>
      <AttributeTable attributes={attributes} />
      {span.events.length > 0 ? (
        <>
          <h3>Span events</h3>
          <ul className="log-list">
            {span.events.map((e, i) => (
              <li key={i}>
                <span className="log-time">+{formatMs(offsetMs(e.timeUnixNano, startNano))}</span> <strong>{e.name}</strong>{' '}
                {Object.entries(e.attributes)
                  .map(([k, v]) => `${k}=${renderValue(v)}`)
                  .join(' ')}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>Resource</h3>
      <AttributeTable attributes={Object.entries(span.resource).sort(([a], [b]) => a.localeCompare(b))} />
    </div>
  );
}

function renderValue(value: AttributeValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function AttributeTable({ attributes }: { attributes: [string, AttributeValue][] }) {
  if (attributes.length === 0) return <p className="muted">None.</p>;
  return (
    <table className="table compact attrs">
      <tbody>
        {attributes.map(([k, v]) => (
          <tr key={k}>
            <th scope="row" className="mono">
              {k}
            </th>
            <td className="mono">{renderValue(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
