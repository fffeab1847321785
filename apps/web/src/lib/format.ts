// Display formatting for ops screens. Pure; inputs are the DTOs' decimal strings.

const bitUnits = ["bps", "kbps", "Mbps", "Gbps", "Tbps"] as const;
const byteUnits = ["B", "KB", "MB", "GB", "TB", "PB"] as const;

function scaled(value: bigint, base: bigint, units: readonly string[]): string {
  let unit = 0;
  let whole = value;
  let divisor = 1n;
  while (whole >= base && unit < units.length - 1) {
    whole /= base;
    divisor *= base;
    unit += 1;
  }
  if (unit === 0) return `${value} ${units[0]}`;
  // One decimal from integer arithmetic, so 64-bit counters never pass through a float.
  const tenths = (value * 10n) / divisor;
  return `${tenths / 10n}.${tenths % 10n} ${units[unit]}`;
}

function toBigInt(value: string | number | bigint): bigint {
  if (typeof value === "bigint") return value < 0n ? 0n : value;
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? BigInt(Math.floor(value)) : 0n;
  return /^\d+$/.test(value) ? BigInt(value) : 0n;
}

/** 1500000 -> "1.5 Mbps" (SI, 1000). */
export function formatBps(value: string | number | bigint): string {
  return scaled(toBigInt(value), 1000n, bitUnits);
}

/** 1536 -> "1.5 KB" (binary, 1024, as routers report). */
export function formatBytes(value: string | number | bigint): string {
  return scaled(toBigInt(value), 1024n, byteUnits);
}

/** Megabits per second with one decimal, for the wall's big numbers. */
export function mbps(value: string | number | bigint): string {
  const tenths = toBigInt(value) / 100_000n;
  return `${tenths / 10n}.${tenths % 10n}`;
}

/** 93784 s -> "1d 2h 3m"; under a minute "45s". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** Kbps plan rates: 10240 -> "10 Mbps", 512 -> "512 kbps". */
export function formatKbps(kbps: number): string {
  if (kbps >= 1024 && kbps % 1024 === 0) return `${kbps / 1024} Mbps`;
  if (kbps >= 1000 && kbps % 1000 === 0) return `${kbps / 1000} Mbps`;
  return `${kbps} kbps`;
}

/** Local wall-clock time, 24h, seconds shown: the wall is read by people on shift. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleTimeString("en-GB", { hour12: false });
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.toLocaleDateString("en-GB", { day: "2-digit", month: "short", year: "numeric" })} ${d.toLocaleTimeString("en-GB", { hour12: false })}`;
}

/** Share of the busiest router, 0..100, for the wall's bars. */
export function barPercent(value: string, max: bigint): number {
  if (max <= 0n) return 0;
  const v = toBigInt(value);
  return Number((v * 1000n) / max) / 10;
}

/** RFC 5176 Error-Cause values a support agent may see. */
const errorCauses: Record<number, string> = {
  201: "Residual session context removed",
  401: "Unsupported attribute",
  402: "Missing attribute",
  403: "NAS identification mismatch",
  404: "Invalid request",
  405: "Unsupported service",
  406: "Unsupported extension",
  407: "Invalid attribute value",
  501: "Administratively prohibited",
  502: "Request not routable (proxy)",
  503: "Session context not found",
  504: "Session context not removable",
  505: "Other proxy processing error",
  506: "Resources unavailable",
  507: "Request initiated",
  508: "Multiple session selection unsupported",
};

export function describeErrorCause(code: number | null): string {
  if (code === null) return "no Error-Cause given";
  return `${errorCauses[code] ?? "Unknown cause"} (Error-Cause ${code})`;
}
