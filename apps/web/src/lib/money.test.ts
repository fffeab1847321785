import { describe, expect, it } from "vitest";
import { formatPkr } from "./money";

describe("formatPkr", () => {
  it("always shows two decimals and groups thousands", () => {
    expect(formatPkr(0)).toBe("PKR 0.00");
    expect(formatPkr(5)).toBe("PKR 0.05");
    expect(formatPkr(150_000)).toBe("PKR 1,500.00");
    expect(formatPkr(123_456_789)).toBe("PKR 1,234,567.89");
    expect(formatPkr(-25_005)).toBe("-PKR 250.05");
  });

  it("is exact up to the safe-integer limit and refuses fractions", () => {
    expect(formatPkr(Number.MAX_SAFE_INTEGER)).toBe("PKR 90,071,992,547,409.91");
    expect(formatPkr(1.5)).toBe("—");
  });
});
