import { describe, expect, it } from "vitest";
import { type BillingPlan, periodContaining, type Period } from "./cycles";
import { prorate, prorateActivation, prorateChange, ProrationError, prorateTermination } from "./proration";

const fixedDay1: BillingPlan = { kind: "monthly_fixed_day", day: 1 };
const basic = { name: "Basic 10 Mbps", pricePaisa: 150000 };
const pro = { name: "Pro 25 Mbps", pricePaisa: 250000 };

// March 2024 on a day-1 cycle: 31 days.
const march2024: Period = periodContaining(fixedDay1, "2024-01-01", "2024-03-05");
// April 2024: 30 days, so halves are exact and exercise the rounding rule.
const april2024: Period = periodContaining(fixedDay1, "2024-01-01", "2024-04-05");
// February 2100: 28 days (2100 is not a leap year).
const feb2100: Period = periodContaining(fixedDay1, "2100-01-01", "2100-02-05");
// Anniversary on the 15th: 2024-02-15 .. 2024-03-14, 29 days (leap February).
const feb15: Period = periodContaining({ kind: "monthly_anniversary" }, "2024-01-15", "2024-02-20");
// Yearly anchored on Feb 29: 2024-02-29 .. 2025-02-27, 365 days.
const leapYear: Period = periodContaining({ kind: "yearly" }, "2024-02-29", "2024-06-01");

describe("prorate", () => {
  it.each([
    [250000, 24, 29, 206897], // 6,000,000 / 29 = 206,896.55
    [100001, 15, 30, 50001], // 1,500,015 / 30 = 50,000.5 -> half away from zero
    [-100001, 15, 30, -50001], // a negative half rounds away from zero too, not up
    [100000, 0, 30, 0],
    [100000, 30, 30, 100000],
    [1, 1, 3, 0], // 0.33
    [2, 1, 3, 1], // 0.67
  ])("%i paisa for %i of %i days = %i", (price, days, total, expected) => {
    expect(prorate(price, days, total)).toBe(expected);
  });

  it.each([
    [100.5, 1, 30, "invalid_price"],
    [100, 31, 30, "invalid_period"],
    [100, -1, 30, "invalid_period"],
    [100, 0, 0, "invalid_period"],
    [Number.MAX_SAFE_INTEGER, 2, 30, "invalid_price"],
  ])("prorate(%s, %s, %s) throws %s", (price, days, total, code) => {
    expect(() => prorate(price, days, total)).toThrow(expect.objectContaining({ code }));
  });
});

describe("activation", () => {
  it.each([
    // period, activated, price, expected paisa, days text
    [feb15, "2024-02-20", 250000, 206897, "24/29"], // Feb 20..Mar 14 = 24 days; 6,000,000/29 = 206,896.55
    [march2024, "2024-03-01", 150000, 150000, "31/31"], // whole period, no proration
    [march2024, "2024-03-31", 150000, 4839, "1/31"], // 150,000/31 = 4,838.71
    [april2024, "2024-04-16", 100001, 50001, "15/30"], // 1,500,015/30 = 50,000.5
    [feb2100, "2100-02-15", 120000, 60000, "14/28"], // 1,680,000/28 = 60,000
  ])("activated in %o on %s at %i -> %i", (period, on, price, expected, days) => {
    const r = prorateActivation({ period, plan: { name: "Home", pricePaisa: price }, activatedOn: on });
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]?.amountPaisa).toBe(expected);
    expect(r.lines[0]?.description).toContain(`(${days} days)`);
    expect(r.netPaisa).toBe(expected);
    expect(r.creditNoteDue).toBe(false);
  });

  it("describes the span with the last day of service", () => {
    const r = prorateActivation({ period: feb15, plan: basic, activatedOn: "2024-02-20" });
    expect(r.lines[0]?.description).toBe("Basic 10 Mbps, 2024-02-20 to 2024-03-14 (24/29 days)");
  });
});

describe("termination", () => {
  it.each([
    [april2024, "2024-04-16", 100001, -50001], // 15 unused days of 30: -50,000.5 -> -50,001
    [feb2100, "2100-02-15", 120000, -60000], // Feb 15..28 = 14 of 28 days
    [march2024, "2024-03-01", 150000, -150000], // terminated on the first day: everything back
    [leapYear, "2024-12-01", 1200000, -292603], // Dec 1..Feb 27 = 31+31+27 = 89 days; 106,800,000/365 = 292,602.74
  ])("terminated in %o on %s at %i -> %i", (period, on, price, expected) => {
    const r = prorateTermination({ period, plan: { name: "Home", pricePaisa: price }, terminatedOn: on });
    expect(r.netPaisa).toBe(expected);
    expect(r.creditNoteDue).toBe(true);
    expect(r.lines[0]?.description).toMatch(/^Credit: unused Home/);
  });

  it("a free plan terminates with a zero credit, not a credit note", () => {
    const r = prorateTermination({ period: march2024, plan: { name: "Free", pricePaisa: 0 }, terminatedOn: "2024-03-10" });
    expect(r.netPaisa).toBe(0);
    expect(Object.is(r.lines[0]?.amountPaisa, 0)).toBe(true);
    expect(r.creditNoteDue).toBe(false);
  });
});

describe("upgrade and downgrade", () => {
  it.each([
    // Mar 11..31 = 21 of 31 days. Basic: 3,150,000/31 = 101,612.90 -> 101,613. Pro: 5,250,000/31 = 169,354.84 -> 169,355.
    [basic, pro, -101613, 169355, 67742, false, "Upgrade to Pro 25 Mbps"],
    [pro, basic, -169355, 101613, -67742, true, "Downgrade to Basic 10 Mbps"],
    [basic, basic, -101613, 101613, 0, false, "Upgrade to Basic 10 Mbps"],
  ])("%o -> %o", (from, to, credit, charge, net, creditNoteDue, label) => {
    const r = prorateChange({ period: march2024, from, to, effectiveOn: "2024-03-11" });
    expect(r.lines.map((l) => l.amountPaisa)).toEqual([credit, charge]);
    expect(r.netPaisa).toBe(net);
    expect(r.creditNoteDue).toBe(creditNoteDue);
    expect(r.lines[1]?.description).toBe(`${label}, 2024-03-11 to 2024-03-31 (21/31 days)`);
  });

  it("rounds each line once, so the net may differ from prorating the difference", () => {
    // Apr 28..30 = 3 of 30 days, i.e. a tenth of each price. Old 4 paisa: 0.4 -> 0. New 16
    // paisa: 1.6 -> 2. Net 2, where prorating the 12 paisa difference would give 1.2 -> 1.
    const r = prorateChange({ period: april2024, from: { name: "A", pricePaisa: 4 }, to: { name: "B", pricePaisa: 16 }, effectiveOn: "2024-04-28" });
    expect(r.lines.map((l) => l.amountPaisa)).toEqual([0, 2]);
    expect(prorate(12, 3, 30)).toBe(1);
    expect(r.netPaisa).toBe(2);
  });
});

describe("bad input", () => {
  it.each([
    ["2024-02-29", "date_outside_period"], // before the period
    ["2024-04-01", "date_outside_period"], // the exclusive end
  ])("effective %s -> %s", (on, code) => {
    expect(() => prorateChange({ period: march2024, from: basic, to: pro, effectiveOn: on })).toThrow(expect.objectContaining({ code }));
  });

  it("rejects negative and fractional prices with a ProrationError", () => {
    expect(() => prorateActivation({ period: march2024, plan: { name: "X", pricePaisa: -1 }, activatedOn: "2024-03-02" })).toThrow(ProrationError);
    expect(() => prorateTermination({ period: march2024, plan: { name: "X", pricePaisa: 10.5 }, terminatedOn: "2024-03-02" })).toThrow(ProrationError);
  });

  it("rejects impossible dates with the calendar's error", () => {
    expect(() => prorateActivation({ period: feb2100, plan: basic, activatedOn: "2100-02-29" })).toThrow(expect.objectContaining({ code: "invalid_date" }));
  });
});
