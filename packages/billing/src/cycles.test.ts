import { describe, expect, it } from "vitest";
import {
  addDays,
  type BillingPlan,
  businessDate,
  compareDates,
  CycleError,
  daysInPeriod,
  formatDate,
  isLeapYear,
  lastDay,
  nextPeriod,
  periodAt,
  periodContaining,
  prepaidValidity,
  toDate,
} from "./cycles";

const monthly: BillingPlan = { kind: "monthly_anniversary" };
const quarterly: BillingPlan = { kind: "quarterly" };
const yearly: BillingPlan = { kind: "yearly" };
const fixed = (day: number): BillingPlan => ({ kind: "monthly_fixed_day", day });
const prepaid = (validityDays: number): BillingPlan => ({ kind: "prepaid", validityDays });

function span(plan: BillingPlan, anchor: string, date: string): [string, string, number] {
  const p = periodContaining(plan, anchor, date);
  return [formatDate(p.start), formatDate(p.end), daysInPeriod(p)];
}

describe("calendar", () => {
  it.each([
    [2024, true],
    [2023, false],
    [2000, true],
    [2100, false],
    [1900, false],
  ])("leap year %i is %s", (y, leap) => {
    expect(isLeapYear(y)).toBe(leap);
  });

  it.each(["2100-02-29", "2023-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "2024-1-1", "", "2024-01-01T00:00"])("rejects %j", (text) => {
    expect(() => toDate(text)).toThrow(CycleError);
  });

  it("accepts 2024-02-29 and 2000-02-29", () => {
    expect(toDate("2024-02-29")).toEqual({ y: 2024, m: 2, d: 29 });
    expect(toDate("2000-02-29")).toEqual({ y: 2000, m: 2, d: 29 });
  });

  it.each([
    ["2024-02-28", 1, "2024-02-29"],
    ["2100-02-28", 1, "2100-03-01"],
    ["2024-12-31", 1, "2025-01-01"],
    ["2024-03-01", -1, "2024-02-29"],
  ])("%s + %i days = %s", (from, days, to) => {
    expect(formatDate(addDays(toDate(from), days))).toBe(to);
  });
});

describe("businessDate (Asia/Karachi, UTC+5)", () => {
  it.each([
    ["2024-02-28T18:59:59.999Z", "2024-02-28"],
    ["2024-02-28T19:00:00.000Z", "2024-02-29"],
    ["2024-12-31T19:00:00Z", "2025-01-01"],
    ["2024-06-15T00:00:00+05:00", "2024-06-15"],
    ["2024-06-14T23:59:59-07:00", "2024-06-15"],
  ])("%s is %s in Karachi", (instant, date) => {
    expect(formatDate(businessDate(new Date(instant)))).toBe(date);
  });

  it("rejects an invalid Date", () => {
    expect(() => businessDate(new Date("nope"))).toThrow(CycleError);
  });
});

describe("monthly on the anniversary day", () => {
  it.each([
    // anchor, date, start, end (exclusive), days
    ["2024-01-15", "2024-01-15", "2024-01-15", "2024-02-15", 31],
    ["2024-01-15", "2024-02-14", "2024-01-15", "2024-02-15", 31],
    ["2024-01-15", "2024-02-15", "2024-02-15", "2024-03-15", 29],
    ["2023-01-15", "2023-02-20", "2023-02-15", "2023-03-15", 28],
    // Day 31 clamps to month end and comes back to 31 once the month allows.
    ["2024-01-31", "2024-02-10", "2024-01-31", "2024-02-29", 29],
    ["2024-01-31", "2024-02-29", "2024-02-29", "2024-03-31", 31],
    ["2024-01-31", "2024-03-30", "2024-02-29", "2024-03-31", 31],
    ["2024-01-31", "2024-04-30", "2024-04-30", "2024-05-31", 31],
    ["2023-01-31", "2023-02-28", "2023-02-28", "2023-03-31", 31],
    ["2100-01-31", "2100-02-28", "2100-02-28", "2100-03-31", 31],
    ["2024-01-30", "2024-02-29", "2024-02-29", "2024-03-30", 30],
    ["2024-12-20", "2025-01-05", "2024-12-20", "2025-01-20", 31],
    ["2024-03-31", "2025-03-31", "2025-03-31", "2025-04-30", 30],
  ])("anchor %s, date %s -> [%s, %s) %i days", (anchor, date, start, end, days) => {
    expect(span(monthly, anchor, date)).toEqual([start, end, days]);
  });

  it("walks twelve periods from Jan 31 keeping the anchor day", () => {
    const starts: string[] = [];
    let p = periodAt(monthly, "2024-01-31", 0);
    for (let i = 0; i < 13; i++) {
      starts.push(formatDate(p.start));
      p = nextPeriod(monthly, "2024-01-31", p);
    }
    expect(starts).toEqual([
      "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31",
      "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31", "2025-01-31",
    ]);
  });
});

describe("monthly on a fixed calendar day", () => {
  it.each([
    [1, "2024-03-10", "2024-03-10", "2024-03-01", "2024-04-01", 31],
    [1, "2024-02-10", "2024-02-10", "2024-02-01", "2024-03-01", 29],
    [1, "2100-02-10", "2100-02-10", "2100-02-01", "2100-03-01", 28],
    [15, "2024-03-10", "2024-03-10", "2024-02-15", "2024-03-15", 29],
    [15, "2024-03-10", "2024-03-15", "2024-03-15", "2024-04-15", 31],
    [31, "2024-02-05", "2024-02-05", "2024-01-31", "2024-02-29", 29],
    [31, "2024-02-05", "2024-02-29", "2024-02-29", "2024-03-31", 31],
    [31, "2023-02-05", "2023-03-30", "2023-02-28", "2023-03-31", 31],
    [10, "2024-12-20", "2025-01-09", "2024-12-10", "2025-01-10", 31],
  ])("day %i, anchor %s, date %s -> [%s, %s) %i days", (day, anchor, date, start, end, days) => {
    expect(span(fixed(day), anchor, date)).toEqual([start, end, days]);
  });

  it.each([0, 32, 1.5])("rejects billing day %s", (day) => {
    expect(() => periodContaining(fixed(day), "2024-01-01", "2024-01-02")).toThrow(expect.objectContaining({ code: "invalid_plan" }));
  });
});

describe("quarterly and yearly", () => {
  it.each([
    [quarterly, "2024-01-31", "2024-04-29", "2024-01-31", "2024-04-30", 90],
    [quarterly, "2024-01-31", "2024-04-30", "2024-04-30", "2024-07-31", 92],
    [quarterly, "2023-11-30", "2024-02-29", "2024-02-29", "2024-05-30", 91],
    [quarterly, "2023-11-30", "2024-02-28", "2023-11-30", "2024-02-29", 91],
    [yearly, "2024-02-29", "2025-02-27", "2024-02-29", "2025-02-28", 365],
    [yearly, "2024-02-29", "2025-03-01", "2025-02-28", "2026-02-28", 365],
    [yearly, "2024-02-29", "2028-02-29", "2028-02-29", "2029-02-28", 365],
    [yearly, "2027-02-28", "2028-02-28", "2028-02-28", "2029-02-28", 366],
    [yearly, "2096-02-29", "2100-02-28", "2100-02-28", "2101-02-28", 365],
    [yearly, "2099-03-01", "2100-03-01", "2100-03-01", "2101-03-01", 365],
  ])("%o anchor %s, date %s -> [%s, %s) %i days", (plan, anchor, date, start, end, days) => {
    expect(span(plan, anchor, date)).toEqual([start, end, days]);
  });
});

describe("prepaid validity", () => {
  it.each([
    ["2024-02-15", 30, "2024-03-15", "2024-03-16"],
    ["2023-02-15", 30, "2023-03-16", "2023-03-17"],
    ["2024-12-31", 1, "2024-12-31", "2025-01-01"],
    ["2100-02-01", 30, "2100-03-02", "2100-03-03"],
  ])("recharge %s for %i days: last day %s, expires %s", (recharge, days, last, expires) => {
    const v = prepaidValidity(recharge, days);
    expect([formatDate(v.lastDay), formatDate(v.expiresOn)]).toEqual([last, expires]);
  });

  it("back-to-back recharges form consecutive periods", () => {
    expect(span(prepaid(30), "2024-01-01", "2024-01-30")).toEqual(["2024-01-01", "2024-01-31", 30]);
    expect(span(prepaid(30), "2024-01-01", "2024-01-31")).toEqual(["2024-01-31", "2024-03-01", 30]);
    const p = periodContaining(prepaid(7), "2024-02-26", "2024-02-27");
    expect(formatDate(lastDay(p))).toBe("2024-03-03");
  });

  it.each([0, -1, 3661, 2.5])("rejects validity %s", (days) => {
    expect(() => prepaidValidity("2024-01-01", days)).toThrow(CycleError);
  });
});

describe("invariants and errors", () => {
  it("consecutive periods share a boundary and every date falls in exactly its period", () => {
    const plans: Array<[BillingPlan, string]> = [
      [monthly, "2023-12-31"],
      [fixed(30), "2024-01-17"],
      [quarterly, "2023-08-31"],
      [yearly, "2024-02-29"],
      [prepaid(28), "2024-01-05"],
    ];
    for (const [plan, anchor] of plans) {
      let p = periodContaining(plan, anchor, anchor);
      for (let i = 0; i < 40; i++) {
        const next = nextPeriod(plan, anchor, p);
        expect(next.start).toEqual(p.end);
        expect(daysInPeriod(p)).toBeGreaterThan(0);
        expect(periodContaining(plan, anchor, compareDates(p.start, toDate(anchor)) > 0 ? p.start : anchor)).toEqual(p);
        expect(periodContaining(plan, anchor, lastDay(p))).toEqual(p);
        p = next;
      }
    }
  });

  it("rejects dates before the anchor, bad indices and unknown plans", () => {
    expect(() => periodContaining(monthly, "2024-03-10", "2024-03-09")).toThrow(expect.objectContaining({ code: "before_anchor" }));
    expect(() => periodAt(monthly, "2024-03-10", -1)).toThrow(expect.objectContaining({ code: "before_anchor" }));
    expect(() => periodContaining({ kind: "weekly" } as unknown as BillingPlan, "2024-03-10", "2024-03-11")).toThrow(
      expect.objectContaining({ code: "invalid_plan" }),
    );
    expect(() => periodContaining(monthly, "2024-02-30", "2024-03-11")).toThrow(expect.objectContaining({ code: "invalid_date" }));
  });
});
