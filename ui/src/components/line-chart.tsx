// A time-series line chart (d3-scale for axes, d3-shape for lines) drawn as SVG at the container's width.
import { scaleLinear, scaleTime } from 'd3-scale';
import { line } from 'd3-shape';
import { CHART_MARGIN, TimeValueAxes } from './axes.tsx';
import { useWidth } from './use-width.ts';

export interface ChartSeries {
  name: string;
  /** A CSS class that sets the stroke colour (series-1 … series-4, series-error). */
  className: string;
  points: readonly { t: number; v: number }[];
}

const MARGIN = CHART_MARGIN;

export function LineChart({
  title,
  series,
  formatValue,
  height = 200,
}: {
  title: string;
  series: readonly ChartSeries[];
  formatValue: (v: number) => string;
  height?: number;
}) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    return (
      <figure className="chart" ref={ref}>
        <figcaption>{title}</figcaption>
        <div className="chart-empty">No data points in this run.</div>
      </figure>
    );
  }
  const tMin = Math.min(...all.map((p) => p.t));
  const tMax = Math.max(...all.map((p) => p.t), tMin + 1000);
  const vMax = Math.max(...all.map((p) => p.v), 0);
  const x = scaleTime()
    .domain([tMin, tMax])
    .range([MARGIN.left, Math.max(MARGIN.left + 10, width - MARGIN.right)]);
  const y = scaleLinear()
    .domain([0, vMax > 0 ? vMax : 1])
    .nice(4)
    .range([height - MARGIN.bottom, MARGIN.top]);
  const path = line<{ t: number; v: number }>()
    .x((p) => x(p.t))
    .y((p) => y(p.v));
  return (
    <figure className="chart" ref={ref}>
      <figcaption>
        {title}
        <span className="legend">
          {series.map((s) => (
            <span key={s.name} className={`legend-item ${s.className}`}>
              <span className="legend-swatch" aria-hidden="true" />
              {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <svg width={width} height={height} role="img" aria-label={title}>
        <TimeValueAxes x={x} y={y} width={width} height={height} formatValue={formatValue} />
        {series.map((s) => (
          <g key={s.name} className={`series ${s.className}`}>
            <path d={path([...s.points]) ?? ''} fill="none" />
            {s.points.length < 40
              ? s.points.map((p) => (
                  <circle key={p.t} cx={x(p.t)} cy={y(p.v)} r={2.5}>
                    <title>{`${s.name}: ${formatValue(p.v)} at ${new Date(p.t).toLocaleTimeString('en-GB')}`}</title>
                  </circle>
                ))
              : null}
          </g>
        ))}
      </svg>
    </figure>
  );
}
