import { describe, expect, it } from "vitest";
import { add, formatMoney, money, MoneyError, parseMajor, roundHalfAwayFromZero } from "./money";

describe("money", () => {
  it.each([
    [150000, "Rs 1,500"],
    [150050, "Rs 1,500.50"],
    [5, "Rs 0.05"],
    [-2500, "-Rs 25"],
    [0, "Rs 0"],
  ])("formats %i paisa as %s", (paisa, text) => {
    expect(formatMoney(paisa)).toBe(text);
  });

  it.each([
    ["1,500", 150000],
    ["Rs 1500.5", 150050],
    ["0.07", 7],
    ["-25", -2500],
  ])("parses %s into %i paisa", (text, paisa) => {
    expect(parseMajor(text).amountMinor).toBe(paisa);
  });

  it("rejects floats, more decimals than the currency has, and mixed currencies", () => {
    expect(() => money(10.5)).toThrow(MoneyError);
    expect(() => parseMajor("1.234")).toThrow(MoneyError);
    expect(() => parseMajor("abc")).toThrow(MoneyError);
    expect(() => add(money(1, "PKR"), money(1, "USD"))).toThrow(/cannot add PKR and USD/);
  });

  it("rounds half away from zero", () => {
    expect([2.5, -2.5, 2.4, -2.6].map(roundHalfAwayFromZero)).toEqual([3, -3, 2, -3]);
  });
});
