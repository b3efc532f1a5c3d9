// Loading, empty and error states: each says what is happening and what to do next.
import type { ReactNode } from 'react';
import type { ApiFailure } from '../api.ts';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      Loading {what}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty" role="status" data-testid="empty-state">
      <strong>{title}</strong>
      {children ? <div className="state-detail">{children}</div> : null}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: ApiFailure; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <strong>{error.message}</strong>
      <div className="state-detail">
        {error.status === 0 ? (
          <>
            Start it with <code>npx meshlet collector</code> (or <code>npx meshlet up</code> for the whole mesh), then retry.
          </>
        )
          : error.status >= 500
            ? 'The collector logs the cause on its stderr.'
            : error.param
              ? 'Fix the value in the form or the address bar.'
              : null}
      </div>
      {onRetry ? (
        <button type="button" className="button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

/** Shows loading/error around content; keeps showing stale content with a small notice while reloading. */
export function Loadable<T>({
  state,
  what,
  children,
}: {
  state: { data: T | undefined; error: ApiFailure | undefined; loading: boolean; reload: () => void };
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (state.data === undefined) {
    if (state.error) return <ErrorState error={state.error} onRetry={state.reload} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {state.error ? <ErrorState error={state.error} onRetry={state.reload} /> : null}
      {children(state.data)}
    </>
  );
}

/** What to tell someone whose collector has received nothing. */
export function NoSpansHint() {
  return (
    <>
      No spans yet — is the mesh sending to <code>:4318</code>? Sidecars send OTLP/HTTP to the collector’s
      port 4318 (<code>meshlet up</code> sets this up; a standalone <code>meshlet proxy</code> needs{' '}
      <code>--collector http://127.0.0.1:4318</code>). Then send a request through the mesh.
    </>
  );
}
