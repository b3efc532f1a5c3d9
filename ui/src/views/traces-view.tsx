// Trace search: every filter of the query API, kept in the URL; results as a duration scatter and a table.
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { QUERY_API, type RunsResponse, type ServicesResponse, type TraceSearchResponse } from '@meshlet/wire';
import { apiUrl } from '../api.ts';
import { ReasonBadge } from '../components/badges.tsx';
import { REASON_CHOICES, SelectField, TableHead, type Choice } from '../components/fields.tsx';
import { DurationScatter } from '../components/scatter-plot.tsx';
import { Empty, Loadable } from '../components/states.tsx';
import { formatMs, formatTime } from '../format.ts';
import { useStreamEvent, useStreamStatus } from '../stream.tsx';
import { isStreamWindow, readWindow, windowApiParams, windowQuery } from '../time-window.ts';
import { useApi } from '../use-api.ts';

/** Search fields as they appear in the URL (and in the query API, which uses the same names). */
const FIELDS = ['service', 'operation', 'status', 'originService', 'reason', 'minDurationMs', 'maxDurationMs', 'limit'] as const;
type Field = (typeof FIELDS)[number];
type Draft = Record<Field, string> & { attr: string[]; run: string };

function readDraft(params: URLSearchParams): Draft {
  const draft = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ''])) as Record<Field, string>;
  return { ...draft, attr: params.getAll('attr'), run: params.get('run') ?? '' };
}

const STATUS_CHOICES: readonly Choice[] = [
  { value: 'error', label: 'failed' },
  { value: 'ok', label: 'ok' },
];

/** Problems a person should fix before searching; the collector would answer 400 otherwise. */
function checkDraft(d: Draft): string[] {
  const problems: string[] = [];
  for (const f of ['minDurationMs', 'maxDurationMs', 'limit'] as const) {
    if (d[f] !== '' && !(Number(d[f]) >= 0)) problems.push(`${f} must be a number of ${f === 'limit' ? 'traces' : 'milliseconds'} (got “${d[f]}”).`);
  }
  if (d.minDurationMs && d.maxDurationMs && Number(d.minDurationMs) > Number(d.maxDurationMs)) problems.push('The minimum duration is above the maximum.');
  for (const a of d.attr) if (!/^[^=]+=/.test(a)) problems.push(`Attribute filter “${a}” must look like key=value.`);
  return problems;
}

export function TracesView() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const timeWindow = readWindow(params);
  const applied = readDraft(params);
  const query = { ...windowApiParams(timeWindow), ...Object.fromEntries(FIELDS.map((f) => [f, applied[f]])), attr: applied.attr };
  const traces = useApi<TraceSearchResponse>(apiUrl(QUERY_API.traces, query));
  const carry = windowQuery(params);

  // New traces arriving on the stream: offered, not forced, so the list does not jump while read.
  const [fresh, setFresh] = useState(0);
  const status = useStreamStatus();
  const filtered = FIELDS.some((f) => applied[f] !== '') || applied.attr.length > 0;
  useStreamEvent('trace', isStreamWindow(timeWindow) && status === 'live' && !filtered, () => setFresh((n) => n + 1));

  return (
    <section className="view">
      <div className="view-header">
        <h1 tabIndex={-1}>Traces</h1>
        <p className="subtitle">Find requests by service, outcome, where they failed, how long they took, attributes and load-test run.</p>
      </div>
      <SearchForm
        key={params.toString()}
        initial={applied}
        onSearch={(draft) => {
          const next = new URLSearchParams(carry.slice(1));
          for (const f of FIELDS) if (draft[f]) next.set(f, draft[f]);
          for (const a of draft.attr) next.append('attr', a);
          if (draft.run) next.set('run', draft.run);
          else next.delete('run');
          setFresh(0);
          setParams(next);
        }}
      />
      {fresh > 0 ? (
        <div className="notice" role="status">
          {fresh} new trace{fresh === 1 ? '' : 's'} arrived.{' '}
          <button
            type="button"
            className="button"
            onClick={() => {
              setFresh(0);
              traces.reload();
            }}
          >
            Show
          </button>
        </div>
      ) : null}
      <Loadable state={traces} what="traces">
        {(data) =>
          data.traces.length === 0 ? (
            <Empty title="No trace matches">
              {filtered ? 'Loosen a filter (or clear them all), or pick a wider window in the header.' : 'No traces in this window. Pick a wider window, or check that spans arrive (see the graph).'}
            </Empty>
          ) : (
            <>
              <DurationScatter traces={data.traces} onOpen={(id) => void navigate(`/traces/${id}${carry}`)} />
              <p className="muted small" role="status" data-testid="trace-count">
                {data.traces.length} trace{data.traces.length === 1 ? '' : 's'}
                {data.truncated ? ` shown, more match: raise the limit (now ${applied.limit || 50}) or narrow the search` : ''}
                {traces.loading ? ' · updating…' : ''}
              </p>
              <div className="table-wrap">
                <table className="table traces-table" data-testid="traces-table">
                  <TableHead
                    columns={['started', 'root', { label: 'duration', num: true }, { label: 'spans', num: true }, 'status', 'failure started in', 'services']}
                  />
                  <tbody>
                    {data.traces.map((t) => (
                      <tr key={t.traceId} data-testid="trace-row" data-trace={t.traceId} data-status={t.status} data-duration={t.durationMs}>
                        <td className="nowrap">
                          <Link to={`/traces/${t.traceId}${carry}`} className="row-link">
                            {formatTime(t.startMs)}
                          </Link>
                        </td>
                        <td>
                          {t.rootService} <span className="op">{t.rootOperation}</span>
                          {t.runId ? <span className="chip small">run {t.runId}</span> : null}
                        </td>
                        <td className="num">{formatMs(t.durationMs)}</td>
                        <td className="num">
                          {t.spanCount}
                          {t.errorCount > 0 ? <span className="err"> ({t.errorCount} err)</span> : null}
                        </td>
                        <td>
                          <span className={`badge status-${t.status}`}>{t.status === 'error' ? 'failed' : 'ok'}</span>
                        </td>
                        <td data-testid="trace-origins">
                          {t.origins.map((o) => (
                            <div key={o.spanId} data-origin-service={o.service} data-reason={o.reason}>
                              ◆ {o.service} <span className="op">{o.operation}</span> <ReasonBadge reason={o.reason} />
                            </div>
                          ))}
                        </td>
                        <td className="small muted">{t.services.join(', ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </Loadable>
    </section>
  );
}

function SearchForm({ initial, onSearch }: { initial: Draft; onSearch: (d: Draft) => void }) {
  const [draft, setDraft] = useState<Draft>(initial);
  const [attrInput, setAttrInput] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const services = useApi<ServicesResponse>(apiUrl(QUERY_API.services));
  const runs = useApi<RunsResponse>(apiUrl(QUERY_API.runs));
  const serviceNames = services.data?.services.map((s) => s.name) ?? [];
  const operations = services.data?.services.find((s) => s.name === draft.service)?.operations ?? [];
  const set = (field: keyof Draft, value: string): void => setDraft((d) => ({ ...d, [field]: value }));
  const addAttr = (): void => {
    const value = attrInput.trim();
    if (!value) return;
    setDraft((d) => ({ ...d, attr: [...d.attr, value] }));
    setAttrInput('');
  };
  return (
    <form
      className="filters search-form"
      aria-label="Search traces"
      onSubmit={(e) => {
        e.preventDefault();
        const pending = attrInput.trim() ? { ...draft, attr: [...draft.attr, attrInput.trim()] } : draft;
        const found = checkDraft(pending);
        setProblems(found);
        if (found.length === 0) onSearch(pending);
      }}
    >
      <SelectField label="service" name="service" value={draft.service} choices={serviceNames} onChange={(v) => setDraft((d) => ({ ...d, service: v, operation: '' }))} search />
      <SelectField label="operation" name="operation" value={draft.operation} choices={operations} onChange={(v) => set('operation', v)} disabled={!draft.service} />
      <SelectField label="status" name="status" value={draft.status} choices={STATUS_CHOICES} onChange={(v) => set('status', v)} />
      <SelectField label="failure started in" name="originService" value={draft.originService} choices={serviceNames} onChange={(v) => set('originService', v)} />
      <SelectField label="reason" name="reason" value={draft.reason} choices={REASON_CHOICES} onChange={(v) => set('reason', v)} />
      <label>
        min ms
        <input name="minDurationMs" inputMode="numeric" size={6} value={draft.minDurationMs} onChange={(e) => set('minDurationMs', e.target.value)} placeholder="0" />
      </label>
      <label>
        max ms
        <input name="maxDurationMs" inputMode="numeric" size={6} value={draft.maxDurationMs} onChange={(e) => set('maxDurationMs', e.target.value)} placeholder="∞" />
      </label>
      <SelectField label="load-test run" name="run" value={draft.run} choices={runs.data?.runs.map((r) => r.runId) ?? []} onChange={(v) => set('run', v)} />
      <label>
        limit
        <input name="limit" inputMode="numeric" size={4} value={draft.limit} onChange={(e) => set('limit', e.target.value)} placeholder="50" />
      </label>
      <div className="attr-field">
        <label>
          attribute
          <input
            name="attr"
            value={attrInput}
            placeholder="key=value, Enter to add"
            onChange={(e) => setAttrInput(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && attrInput.trim()) {
                e.preventDefault();
                addAttr();
              }
            }}
          />
        </label>
        {draft.attr.map((a, i) => (
          <span key={`${a}-${i}`} className="chip" data-testid="attr-chip">
            {a}
            <button type="button" aria-label={`Remove attribute filter ${a}`} onClick={() => setDraft((d) => ({ ...d, attr: d.attr.filter((_, j) => j !== i) }))}>
              ×
            </button>
          </span>
        ))}
      </div>
      <div className="form-actions">
        <button type="submit" className="button primary">
          Search
        </button>
      </div>
      {problems.length > 0 ? (
        <ul className="field-error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
    </form>
  );
}
