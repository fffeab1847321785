import { describe, expect, it } from "vitest";
import { bps, sessionDelta } from "./session-store";
import { backoffMs } from "./enforcement-worker";

describe("accounting arithmetic", () => {
  it.each([
    [null, 100n, 100n],
    [100n, 250n, 150n],
    [250n, 100n, 0n], // late/duplicate interim adds nothing
    [250n, 250n, 0n],
    [0n, 2n ** 40n, 2n ** 40n], // 64-bit
    [null, -5n, 0n],
  ])("sessionDelta(%s, %s) = %s", (prev, cur, want) => {
    expect(sessionDelta(prev, cur)).toBe(want);
  });

  it("bps = octets * 8 / seconds, 0 for empty intervals", () => {
    expect(bps(1_250_000n, 10_000)).toBe(1_000_000n);
    expect(bps(100n, 0)).toBe(0n);
    expect(bps(0n, 1000)).toBe(0n);
  });
});

describe("enforcement backoff", () => {
  it("doubles per attempt and is capped", () => {
    const cfg = { backoffBaseMs: 1000, backoffMaxMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, cfg))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});
