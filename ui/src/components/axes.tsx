// Axes shared by the charts: horizontal grid lines with value labels, and time labels along the bottom.
import type { ScaleLinear, ScaleTime } from 'd3-scale';

export const CHART_MARGIN = { top: 12, right: 16, bottom: 26, left: 64 };

export function TimeValueAxes({
  x,
  y,
  width,
  height,
  formatValue,
}: {
  x: ScaleTime<number, number>;
  y: ScaleLinear<number, number>;
  width: number;
  height: number;
  formatValue: (v: number) => string;
}) {
  const xFormat = x.tickFormat();
  return (
    <>
      {y.ticks(4).map((v) => (
        <g key={v} className="grid">
          <line x1={CHART_MARGIN.left} x2={width - CHART_MARGIN.right} y1={y(v)} y2={y(v)} />
          <text x={CHART_MARGIN.left - 6} y={y(v)} dy="0.32em" textAnchor="end">
            {formatValue(v)}
          </text>
        </g>
      ))}
      {x.ticks(Math.max(2, Math.floor(width / 110))).map((t) => (
        <text key={t.getTime()} className="axis-label" x={x(t)} y={height - 8} textAnchor="middle">
          {xFormat(t)}
        </text>
      ))}
    </>
  );
}
