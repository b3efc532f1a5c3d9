// A tiny bar sparkline of counts per bucket (failure points over the window).
export function Sparkline({ counts, bucketMs, label }: { counts: readonly number[]; bucketMs: number; label: string }) {
  const width = 120;
  const height = 28;
  const max = Math.max(1, ...counts);
  const barWidth = counts.length > 0 ? width / counts.length : width;
  const total = counts.reduce((a, b) => a + b, 0);
  const bucketText = bucketMs >= 60_000 ? `${Math.round(bucketMs / 60_000)} min` : `${Math.round(bucketMs / 1000)} s`;
  return (
    <svg
      className="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${label}: ${total} in ${counts.length} buckets of ${bucketText}`}
    >
      <line x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} className="sparkline-base" />
      {counts.map((c, i) =>
        c > 0 ? (
          <rect
            key={i}
            x={i * barWidth + 0.5}
            width={Math.max(1, barWidth - 1)}
            y={height - 1 - (c / max) * (height - 2)}
            height={(c / max) * (height - 2)}
            className="sparkline-bar"
          >
            <title>{`${c} in bucket ${i + 1} of ${counts.length}`}</title>
          </rect>
        ) : null,
      )}
    </svg>
  );
}
