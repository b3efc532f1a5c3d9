// Small labelled marks used across views: health, failure reason (with its hint), span role.
import { REASON_HINTS, type FailureReason } from '@meshlet/wire';
import { reasonLabel } from '../format.ts';

export function HealthBadge({ health }: { health: string }) {
  return <span className={`badge health-${health}`}>{health}</span>;
}

/** The reason in words; the hint (what to look at) as its tooltip. */
export function ReasonBadge({ reason }: { reason: FailureReason }) {
  return (
    <span className={`badge reason reason-${reason === 'app_error' ? 'app' : 'proxy'}`} title={REASON_HINTS[reason] ?? ''} data-reason={reason}>
      {reasonLabel(reason)}
    </span>
  );
}

export function OriginBadge({ label = 'origin', title }: { label?: string; title?: string }) {
  return (
    <span className="badge origin-badge" data-testid="origin-badge" title={title ?? 'The failure started here'}>
      <span aria-hidden="true">◆ </span>
      {label}
    </span>
  );
}

/** `compact`: an arrow for waterfall rows (the row's colour says the rest), with the word for screen readers. */
export function PropagatedBadge({ compact = false }: { compact?: boolean }) {
  return (
    <span className="badge propagated-badge" title="Propagated: this span failed only because something it called failed." data-testid="propagated-badge">
      {compact ? (
        <>
          <span aria-hidden="true">↑</span>
          <span className="visually-hidden">propagated</span>
        </>
      ) : (
        'propagated'
      )}
    </span>
  );
}

export function hintFor(reason: string): string | undefined {
  return (REASON_HINTS as Record<string, string>)[reason];
}
