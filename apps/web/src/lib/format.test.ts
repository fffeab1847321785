import { describe, expect, it } from "vitest";
import { barPercent, describeErrorCause, formatBps, formatBytes, formatDuration, formatKbps, mbps } from "./format";

describe("formatBps", () => {
  it.each([
    ["0", "0 bps"],
    ["999", "999 bps"],
    ["1000", "1.0 kbps"],
    ["1500000", "1.5 Mbps"],
    ["2999999999", "2.9 Gbps"],
    [12345, "12.3 kbps"],
    ["not a number", "0 bps"],
  ] as const)("%s -> %s", (input, expected) => {
    expect(formatBps(input)).toBe(expected);
  });
});

describe("formatBytes", () => {
  it("uses binary units and exact 64-bit arithmetic", () => {
    expect(formatBytes("1023")).toBe("1023 B");
    expect(formatBytes("1536")).toBe("1.5 KB");
    expect(formatBytes(String(5n * 1024n ** 3n))).toBe("5.0 GB");
    // Beyond 2^53: a float would lose the last digits, bigint keeps them.
    expect(formatBytes("18446744073709551615")).toBe("16383.9 PB"); // 2^64-1, truncated
  });
});

describe("mbps", () => {
  it("rounds down to one decimal", () => {
    expect(mbps("0")).toBe("0.0");
    expect(mbps("12_345_678".replace(/_/g, ""))).toBe("12.3");
    expect(mbps(999_999n)).toBe("0.9");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [45.9, "45s"],
    [61, "1m 1s"],
    [3600 * 2 + 60 * 5, "2h 5m"],
    [86_400 + 3600 * 2 + 60 * 3, "1d 2h 3m"],
    [-5, "0s"],
  ])("%s s -> %s", (s, expected) => {
    expect(formatDuration(s)).toBe(expected);
  });
});

describe("formatKbps", () => {
  it("shows whole megabits and leaves odd rates in kbps", () => {
    expect(formatKbps(8192)).toBe("8 Mbps");
    expect(formatKbps(20480)).toBe("20 Mbps");
    expect(formatKbps(512)).toBe("512 kbps");
    expect(formatKbps(1500)).toBe("1500 kbps");
  });
});

describe("barPercent", () => {
  it("is the share of the busiest router, never dividing by zero", () => {
    expect(barPercent("50", 200n)).toBe(25);
    expect(barPercent("200", 200n)).toBe(100);
    expect(barPercent("5", 0n)).toBe(0);
  });
});

describe("describeErrorCause", () => {
  it("names RFC 5176 causes", () => {
    expect(describeErrorCause(503)).toBe("Session context not found (Error-Cause 503)");
    expect(describeErrorCause(999)).toBe("Unknown cause (Error-Cause 999)");
    expect(describeErrorCause(null)).toBe("no Error-Cause given");
  });
});
