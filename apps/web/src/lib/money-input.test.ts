import { describe, expect, it } from "vitest";
import { parseRupees, paymentMaxPaisa } from "./money";

describe("parseRupees", () => {
  it.each([
    ["1500", 150_000],
    ["1,500", 150_000],
    ["1,234,567.89", 123_456_789],
    ["0.01", 1],
    ["2.5", 250],
    [" 99.90 ", 9_990],
    ["10,000,000", paymentMaxPaisa],
  ])("%s -> %i paisa", (text, paisa) => {
    expect(parseRupees(text)).toEqual({ ok: true, paisa });
  });

  it.each([
    ["", /Enter/],
    ["-5", /negative/],
    ["1.234", /two decimals/],
    ["0", /more than zero/],
    ["0.00", /more than zero/],
    ["10,000,000.01", /At most PKR 10,000,000.00/],
    ["1e5", /digits only/],
    ["12,34", /digits only/],
    ["Rs 500", /digits only/],
    ["+5", /digits only/],
    ["1.", /digits only/],
    [".5", /digits only/],
    ["NaN", /digits only/],
    ["99999999999999999", /too large/],
  ])("refuses %j", (text, error) => {
    const r = parseRupees(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});
