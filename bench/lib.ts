// Contract between scripts/bench.ts and each bench/<name>.bench.ts.

/** One measured figure. `key` is snake_case with the unit in its name (`auth_per_s`, `lookup_p99_ms`). */
export interface Figure {
  key: string;
  value: number;
  /** Printed after the value: "/s", "ms", "s", "x", "bytes", "" ... */
  unit: string;
}

export interface BenchContext {
  /** Admin URL of a PostgreSQL the bench may create databases on (see scripts/bench.ts). */
  databaseAdminUrl(): Promise<string>;
  /** Progress line, indented under the bench's header. */
  log(line: string): void;
}

export interface BenchModule {
  default(ctx: BenchContext): Promise<Figure[]>;
}

/** Percentile (0..100) of unsorted samples, nearest-rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
