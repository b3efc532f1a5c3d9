// The pods the runtime reports (IP, veth, netns, state, health, restarts, CPU, memory) and recent
// infrastructure events. Filters in the URL: `?service=&pod=&state=`.
import { Link, useSearchParams } from 'react-router';
import { LOADTEST_ATTR, POD_STATES, QUERY_API, type MeshResponse, type PodView } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { SelectField, TableHead } from '../components/fields.tsx';
import { Empty, Loadable } from '../components/states.tsx';
import { eventLabel, formatAgo, formatBytes, formatTimeMs } from '../format.ts';
import { useStreamEvent, useStreamStatus } from '../stream.tsx';
import { useApi } from '../use-api.ts';

export function MeshView() {
  const [params, setParams] = useSearchParams();
  const status = useStreamStatus();
  const live = status === 'live';
  const mesh = useApi<MeshResponse>(apiUrl(QUERY_API.mesh), live ? undefined : 5000);
  useStreamEvent('mesh', live, (data) => mesh.setData(() => data));
  const service = params.get('service') ?? '';
  const pod = params.get('pod') ?? '';
  const state = params.get('state') ?? '';
  const setFilter = (key: string, value: string): void => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  return (
    <section className="view">
      <div className="view-header">
        <h1 tabIndex={-1}>Mesh</h1>
        <p className="subtitle">Pods as the runtime last reported them, and what happened to them.</p>
      </div>
      <Loadable state={mesh} what="pods">
        {(data) => {
          const services = [...new Set(data.pods.map((p) => p.service))].sort();
          const pods = data.pods
            .filter((p) => (!service || p.service === service) && (!state || p.state === state) && (!pod || p.pod.includes(pod)))
            .sort((a, b) => a.service.localeCompare(b.service) || a.pod.localeCompare(b.pod));
          const events = data.events.filter((e) => (!service || e.service === service) && (!pod || (e.pod ?? '').includes(pod)));
          return (
            <>
              <form className="filters" aria-label="Filter pods" onSubmit={(e) => e.preventDefault()}>
                <SelectField label="service" name="service" value={service} choices={services} onChange={(v) => setFilter('service', v)} />
                <SelectField label="state" name="state" value={state} choices={POD_STATES} onChange={(v) => setFilter('state', v)} />
                <label>
                  pod
                  <input data-search value={pod} placeholder="name contains…" onChange={(e) => setFilter('pod', e.target.value)} />
                </label>
              </form>
              {data.pods.length === 0 ? (
                <Empty title="No pods reported">
                  The runtime (<code>meshlet up</code>) reports each pod every few seconds. Sidecars started on their own with <code>meshlet proxy</code> run
                  beside processes the runtime does not manage, so they have no pods here; their services still show on the graph.
                </Empty>
              ) : pods.length === 0 ? (
                <Empty title="No pod matches these filters">Clear a filter above.</Empty>
              ) : (
                <PodTable pods={pods} />
              )}
              <h2>Recent infrastructure events</h2>
              {events.length === 0 ? (
                <p className="muted">No restarts, OOM kills, health changes or throttling reported{service || pod ? ' for these pods' : ''}.</p>
              ) : (
                <div className="table-wrap">
                  <table className="table compact" data-testid="mesh-events">
                    <TableHead columns={['time', 'pod', 'event', 'details']} />
                    <tbody>
                      {[...events]
                        .sort((a, b) => b.timeMs - a.timeMs)
                        .map((e, i) => (
                          <tr key={`${e.timeUnixNano}-${i}`} className={e.severityNumber >= 17 ? 'sev-error' : e.severityNumber >= 13 ? 'sev-warn' : ''}>
                            <td className="nowrap" title={formatAgo(e.timeMs)}>
                              {formatTimeMs(e.timeMs)}
                            </td>
                            <td className="nowrap">{e.pod ?? e.service}</td>
                            <td>
                              <span className="badge infra-badge">{eventLabel(e.eventName ?? '')}</span>
                            </td>
                            <td className="small">
                              {e.body}{' '}
                              <span className="muted">
                                {Object.entries(e.attributes)
                                  // The k6-shaped summary is a whole JSON document: too long for a table row.
                                  .filter(([k]) => k !== 'event.name' && k !== LOADTEST_ATTR.summaryJson)
                                  .map(([k, v]) => `${k.replace(/^meshlet\./, '')}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
                                  .join(' ')}
                              </span>
                            </td>
                          </tr>
                        ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Loadable>
    </section>
  );
}

function PodTable({ pods }: { pods: PodView[] }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid="pods-table">
        <TableHead
          columns={['pod', 'service', 'IP', 'veth', 'netns', 'state', 'health', { label: 'restarts', num: true }, { label: 'CPU', num: true }, 'memory', 'reported']}
        />
        <tbody>
          {pods.map((p) => {
            const memoryFraction = p.memoryBytes !== undefined && p.memoryLimitBytes ? p.memoryBytes / p.memoryLimitBytes : undefined;
            return (
              <tr key={`${p.mesh}/${p.pod}`} data-testid="pod-row" data-pod={p.pod}>
                <td>
                  <strong>{p.pod}</strong>
                  <div className="muted small">{p.mesh}</div>
                </td>
                <td>
                  <Link to={`/?selected=node:${encodeURIComponent(p.service)}`}>{p.service}</Link>
                  {p.version ? <span className="muted"> {p.version}</span> : null}
                </td>
                <td className="mono">{p.ip ?? '–'}</td>
                <td className="mono">{p.veth ?? '–'}</td>
                <td className="mono small">{p.netns ?? '–'}</td>
                <td>
                  <span className={`badge state-${p.state}`}>{p.state}</span>
                </td>
                <td>
                  <span className={`badge hs-${p.health}`}>{p.health}</span>
                </td>
                <td className={`num${p.restarts > 0 ? ' warn-text' : ''}`}>{p.restarts}</td>
                <td className="num">{p.cpuCores !== undefined ? `${(p.cpuCores * 100).toFixed(p.cpuCores < 0.1 ? 1 : 0)} %` : '–'}</td>
                <td>
                  {p.memoryBytes !== undefined ? (
                    <div className="meter" title={memoryFraction !== undefined ? `${Math.round(memoryFraction * 100)} % of the limit` : 'no limit'}>
                      <span>
                        {formatBytes(p.memoryBytes)}
                        {p.memoryLimitBytes ? ` / ${formatBytes(p.memoryLimitBytes)}` : ''}
                      </span>
                      {memoryFraction !== undefined ? (
                        <span className={`meter-bar${memoryFraction > 0.9 ? ' bad' : memoryFraction > 0.7 ? ' warn' : ''}`}>
                          <span style={{ width: `${Math.min(100, memoryFraction * 100)}%` }} />
                        </span>
                      ) : null}
                    </div>
                  ) : (
                    '–'
                  )}
                </td>
                <td className="small muted">{formatAgo(p.lastReportMs)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
