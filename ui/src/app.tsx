// The app shell: header with the views, the shared time window, live status and theme; routes; keyboard shortcuts.
import { useEffect, useRef, useState } from 'react';
import { NavLink, Route, Routes, useLocation, useNavigate, useSearchParams } from 'react-router';
import { QUERY_API, type CollectorHealth } from '@meshlet/wire';
import { apiUrl } from './api.ts';
import { NoSpansHint } from './components/states.tsx';
import { WindowPicker } from './components/window-picker.tsx';
import { formatAgo, formatCount } from './format.ts';
import { useStreamStatus } from './stream.tsx';
import { ThemeContext, useTheme, type ThemeChoice } from './theme.ts';
import { windowQuery } from './time-window.ts';
import { HealthContext } from './health.ts';
import { useApi, type ApiState } from './use-api.ts';
import { FailuresView } from './views/failures-view.tsx';
import { GraphView } from './views/graph-view.tsx';
import { MeshView } from './views/mesh-view.tsx';
import { RunView } from './views/run-view.tsx';
import { RunsView } from './views/runs-view.tsx';
import { TraceView } from './views/trace-view.tsx';
import { TracesView } from './views/traces-view.tsx';

const VIEWS = [
  { path: '/', label: 'Graph', key: 'g' },
  { path: '/failures', label: 'Failures', key: 'f' },
  { path: '/traces', label: 'Traces', key: 't' },
  { path: '/mesh', label: 'Mesh', key: 'm' },
  { path: '/runs', label: 'Load tests', key: 'l' },
] as const;

const THEME_NEXT: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };

export function App() {
  const theme = useTheme();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const location = useLocation();
  const [helpOpen, setHelpOpen] = useState(false);
  const carry = windowQuery(params);
  const health = useApi<CollectorHealth>(apiUrl(QUERY_API.health), 10_000);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      const view = VIEWS.find((v) => v.key === event.key);
      if (view) {
        event.preventDefault();
        void navigate(view.path + carry);
      } else if (event.key === '/') {
        const search = document.querySelector<HTMLElement>('[data-search]');
        if (search) {
          event.preventDefault();
          search.focus();
        }
      } else if (event.key === '?') {
        setHelpOpen((open) => !open);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navigate, carry]);

  // Move focus to the new view's heading on navigation so keyboard and screen-reader users land in it.
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
  }, [location.pathname]);

  return (
    <ThemeContext.Provider value={theme.resolved}>
      <HealthContext.Provider value={health.data}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to={'/' + carry} className="brand" aria-label="meshlet home">
          <img src="/favicon.svg" alt="" width={22} height={22} />
          meshlet
        </NavLink>
        <nav aria-label="Views">
          {VIEWS.map((v) => (
            <NavLink
              key={v.path}
              to={v.path + carry}
              end={v.path === '/'}
              className={({ isActive }) => (isActive || (v.path === '/traces' && location.pathname.startsWith('/traces/')) ? 'nav-link active' : 'nav-link')}
              title={`${v.label} (key ${v.key})`}
            >
              {v.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-right">
          {['/', '/failures', '/traces'].includes(location.pathname) ? <WindowPicker /> : null}
          <LiveStatus />
          <button
            type="button"
            className="button ghost"
            onClick={() => theme.setChoice(THEME_NEXT[theme.choice])}
            aria-label={`Theme: ${theme.choice}. Switch to ${THEME_NEXT[theme.choice]}`}
            title="Light, dark or follow the system"
          >
            {theme.choice === 'system' ? '◐ auto' : theme.choice === 'light' ? '☀ light' : '☾ dark'}
          </button>
          <button type="button" className="button ghost" onClick={() => setHelpOpen(true)} aria-label="Keyboard shortcuts">
            ?
          </button>
        </div>
      </header>
      <HealthBanner health={health} />
      <main id="main" ref={mainRef}>
        <Routes>
          <Route path="/" element={<GraphView />} />
          <Route path="/failures" element={<FailuresView />} />
          <Route path="/traces" element={<TracesView />} />
          <Route path="/traces/:traceId" element={<TraceView />} />
          <Route path="/mesh" element={<MeshView />} />
          <Route path="/runs" element={<RunsView />} />
          <Route path="/runs/:runId" element={<RunView />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      {helpOpen ? <Shortcuts onClose={() => setHelpOpen(false)} /> : null}
      </HealthContext.Provider>
    </ThemeContext.Provider>
  );
}

function LiveStatus() {
  const status = useStreamStatus();
  const text = status === 'live' ? 'live' : status === 'connecting' ? 'connecting…' : 'not live (polling)';
  return (
    <span className={`live live-${status}`} role="status" title="Live updates from the collector's event stream">
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** A banner when the collector is empty or unwell, on every view. */
function HealthBanner({ health }: { health: ApiState<CollectorHealth> }) {
  const location = useLocation();
  if (health.error && health.data === undefined) {
    return (
      <div className="banner banner-error" role="alert">
        {health.error.message}
      </div>
    );
  }
  const h = health.data;
  if (!h) return null;
  // The front page says the same in its own empty state.
  if (h.spansStored === 0 && location.pathname !== '/') {
    return (
      <div className="banner" role="status" data-testid="no-spans-banner">
        <NoSpansHint />
      </div>
    );
  }
  if (h.spansStored > 0 && (!h.ok || h.analysisLagMs > 30_000)) {
    return (
      <div className="banner banner-warn" role="status">
        The collector is behind: {formatCount(h.queueDepth)} batches queued, analysis {Math.round(h.analysisLagMs / 1000)} s late
        {h.newestSpanMs ? `; newest span ${formatAgo(h.newestSpanMs)}` : ''}. Views may miss the newest traces.
      </div>
    );
  }
  return null;
}

function Shortcuts({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" onClose={onClose} aria-labelledby="shortcuts-title">
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl className="shortcuts">
        {VIEWS.map((v) => (
          <div key={v.key}>
            <dt>
              <kbd>{v.key}</kbd>
            </dt>
            <dd>{v.label}</dd>
          </div>
        ))}
        <div>
          <dt>
            <kbd>/</kbd>
          </dt>
          <dd>Search / filter on this view</dd>
        </div>
        <div>
          <dt>
            <kbd>Tab</kbd> <kbd>Enter</kbd>
          </dt>
          <dd>Move between services, edges, rows; open one</dd>
        </div>
        <div>
          <dt>
            <kbd>↑</kbd> <kbd>↓</kbd> / <kbd>j</kbd> <kbd>k</kbd>
          </dt>
          <dd>Previous / next span in a trace</dd>
        </div>
        <div>
          <dt>
            <kbd>c</kbd>
          </dt>
          <dd>Critical path on / off (trace)</dd>
        </div>
        <div>
          <dt>
            <kbd>o</kbd>
          </dt>
          <dd>Jump to the origin span (trace)</dd>
        </div>
        <div>
          <dt>
            <kbd>Esc</kbd>
          </dt>
          <dd>Close the side panel or this dialog</dd>
        </div>
      </dl>
      <form method="dialog">
        <button className="button" type="submit" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  );
}

function NotFound() {
  const location = useLocation();
  return (
    <section className="view">
      <h1 tabIndex={-1}>Nothing here</h1>
      <p>
        <code>{location.pathname}</code> is not a view of meshlet. Try the <NavLink to="/">graph</NavLink>, the{' '}
        <NavLink to="/failures">failures</NavLink> or the <NavLink to="/traces">trace search</NavLink>.
      </p>
    </section>
  );
}
