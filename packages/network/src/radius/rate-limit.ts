// MikroTik Mikrotik-Rate-Limit attribute format:
//   rx-rate[/tx-rate] [rx-burst-rate[/tx-burst-rate] [rx-burst-threshold[/tx-burst-threshold]
//   [rx-burst-time[/tx-burst-time] [priority] [rx-min[/tx-min]]]]]
// "rx" and "tx" are from the router's view of the subscriber's interface: the router
// receives what the subscriber uploads and transmits what the subscriber downloads.

export interface RateLimit {
  downloadKbps: number;
  uploadKbps: number;
}

export interface BurstLimit {
  /** Burst rates. */
  downloadKbps: number;
  uploadKbps: number;
  /** Average rate below which bursting is allowed. */
  thresholdDownloadKbps: number;
  thresholdUploadKbps: number;
  /** Averaging window, seconds. */
  timeSeconds: number;
}

export interface MikrotikRateLimitInput extends RateLimit {
  burst?: BurstLimit;
}

/** 2048 -> "2M", 1536 -> "1536k", 0 -> "0" (unlimited on RouterOS). */
export function formatKbps(kbps: number): string {
  if (!Number.isInteger(kbps) || kbps < 0) throw new RangeError(`rate ${kbps} kbps is not a non-negative integer`);
  if (kbps === 0) return "0";
  return kbps % 1024 === 0 ? `${kbps / 1024}M` : `${kbps}k`;
}

export function mikrotikRateLimit(input: MikrotikRateLimitInput): string {
  const base = `${formatKbps(input.uploadKbps)}/${formatKbps(input.downloadKbps)}`;
  const b = input.burst;
  if (!b) return base;
  return (
    `${base} ${formatKbps(b.uploadKbps)}/${formatKbps(b.downloadKbps)}` +
    ` ${formatKbps(b.thresholdUploadKbps)}/${formatKbps(b.thresholdDownloadKbps)} ${b.timeSeconds}/${b.timeSeconds}`
  );
}

/** Parses one rate as RouterOS does ("10M", "512k", "1G", "64000" bits/s). */
export function parseRateKbps(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]!.toLowerCase()) {
    case "k":
      return Math.round(n);
    case "m":
      return Math.round(n * 1024);
    case "g":
      return Math.round(n * 1024 * 1024);
    default:
      return Math.round(n / 1000);
  }
}

/** The base rx/tx rates of a Mikrotik-Rate-Limit value, as download/upload. */
export function parseMikrotikRateLimit(value: string): RateLimit | undefined {
  const first = value.trim().split(/\s+/)[0];
  if (!first) return undefined;
  const [rx, tx] = first.split("/");
  const uploadKbps = rx === undefined ? undefined : parseRateKbps(rx);
  const downloadKbps = tx === undefined ? uploadKbps : parseRateKbps(tx);
  if (uploadKbps === undefined || downloadKbps === undefined) return undefined;
  return { downloadKbps, uploadKbps };
}
