import { describe, expect, it } from "vitest";
import { formatBytes, fupRestoreReasonPrefix, fupThrottleReasonPrefix, restoreReason, throttleReason } from "./fup-enforcer";

describe("fair-usage reasons", () => {
  it("formats decimal units with one decimal, truncated", () => {
    expect(formatBytes(0n)).toBe("0 B");
    expect(formatBytes(999n)).toBe("999 B");
    expect(formatBytes(1000n)).toBe("1 kB");
    expect(formatBytes(1_500_000n)).toBe("1.5 MB");
    expect(formatBytes(100_000_000_000n)).toBe("100 GB");
    expect(formatBytes(101_234_567_890n)).toBe("101.2 GB");
    // Truncated, not rounded: just under the quota never reads as the quota.
    expect(formatBytes(99_990_000_000n)).toBe("99.9 GB");
    expect(formatBytes(2_500_000_000_000n)).toBe("2.5 TB");
  });

  it("throttle and restore reasons carry the prefixes the marker queries key on", () => {
    const t = throttleReason(100_000_000_000n, 101_234_567_890n);
    expect(t).toBe("fair-usage quota 100 GB passed (101.2 GB this month)");
    expect(t.startsWith(fupThrottleReasonPrefix)).toBe(true);
    const r = restoreReason(new Date("2026-12-01T00:00:00Z"), { downloadKbps: 20_000, uploadKbps: 10_000 });
    expect(r).toBe("fair-usage: new month 2026-12, plan rate 20000/10000 kbps restored");
    expect(r.startsWith(fupRestoreReasonPrefix)).toBe(true);
    // A restore reason must never look like a throttle (the throttle marker would count it).
    expect(r.startsWith(fupThrottleReasonPrefix)).toBe(false);
  });
});
