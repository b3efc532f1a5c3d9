// Trace durations over time: one dot per trace (red when it failed); click a dot to open the trace.
import { scaleLinear, scaleTime } from 'd3-scale';
import type { TraceSummary } from '@meshlet/wire';
import { formatMs, formatTime } from '../format.ts';
import { CHART_MARGIN, TimeValueAxes } from './axes.tsx';
import { useWidth } from './use-width.ts';

const MARGIN = CHART_MARGIN;
const HEIGHT = 220;

export function DurationScatter({ traces, onOpen }: { traces: readonly TraceSummary[]; onOpen: (traceId: string) => void }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  if (traces.length === 0) return null;
  const tMin = Math.min(...traces.map((t) => t.startMs));
  const tMax = Math.max(...traces.map((t) => t.startMs), tMin + 1000);
  const dMax = Math.max(...traces.map((t) => t.durationMs), 1);
  const x = scaleTime()
    .domain([tMin, tMax])
    .range([MARGIN.left + 6, Math.max(MARGIN.left + 20, width - MARGIN.right - 6)]);
  const y = scaleLinear()
    .domain([0, dMax])
    .nice(4)
    .range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  // Failed traces drawn last so they are never hidden under ok ones.
  const ordered = [...traces].sort((a, b) => Number(a.status === 'error') - Number(b.status === 'error'));
  return (
    <figure className="chart scatter" ref={ref} data-testid="duration-scatter">
      <figcaption>
        Duration of each trace over time
        <span className="legend">
          <span className="legend-item dot-ok">
            <span className="legend-dot" aria-hidden="true" />
            ok
          </span>
          <span className="legend-item dot-error">
            <span className="legend-dot" aria-hidden="true" />
            failed
          </span>
        </span>
      </figcaption>
      <svg width={width} height={HEIGHT} role="img" aria-label={`Scatter plot of ${traces.length} trace durations; the table below lists the same traces`}>
        <TimeValueAxes x={x} y={y} width={width} height={HEIGHT} formatValue={formatMs} />
        {ordered.map((t) => (
          <circle
            key={t.traceId}
            className={`scatter-dot dot-${t.status}`}
            cx={x(t.startMs)}
            cy={y(t.durationMs)}
            r={t.status === 'error' ? 5 : 4}
            data-trace={t.traceId}
            onClick={() => onOpen(t.traceId)}
          >
            <title>{`${t.rootService} ${t.rootOperation} · ${formatMs(t.durationMs)} · ${formatTime(t.startMs)}${t.status === 'error' ? ' · failed' : ''}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}
