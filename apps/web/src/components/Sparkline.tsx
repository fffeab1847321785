const width = 160;
const height = 32;

/** A tiny trend line; samples are already bounded by the caller. */
export function Sparkline({ samples }: { samples: readonly number[] }) {
  if (samples.length < 2) return <svg className="sparkline" width={width} height={height} aria-hidden="true" />;
  const max = Math.max(...samples, 1);
  const step = width / (samples.length - 1);
  const points = samples.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
