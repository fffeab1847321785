import { describe, expect, it } from "vitest";
import { businessDate } from "./cycles";
import { applicableRules, assertTaxRules, pakistanInternetTaxRulesExample, taxLine, TaxError, taxOn, type TaxRule } from "./tax";

const rules = pakistanInternetTaxRulesExample;
const rule = (over: Partial<TaxRule> & { id: string }): TaxRule => ({ name: over.id, account: `tax:${over.id}`, rateBasisPoints: 1600, inclusive: false, ...over });

describe("applicableRules", () => {
  it.each([
    ["sindh", "internet", ["sst-sindh", "ait"]],
    ["punjab", "internet", ["pst-punjab", "ait"]],
    ["kp", "internet", ["st-kp", "ait"]],
    ["ict", "internet", ["st-ict", "ait"]],
    ["balochistan", "internet", ["ait"]],
    ["sindh", "equipment", []],
  ])("%s / %s -> %j", (region, service, ids) => {
    expect(applicableRules(rules, { region, service, on: "2024-02-29" }).map((r) => r.id)).toEqual(ids);
  });

  // A finance act changes the Punjab rate from July 1; `until` is exclusive.
  const dated = [rule({ id: "old", rateBasisPoints: 1950, until: "2024-07-01" }), rule({ id: "new", rateBasisPoints: 1600, from: "2024-07-01" })];
  it.each([
    ["2024-06-30", "old"],
    ["2024-07-01", "new"],
    ["2028-02-29", "new"],
  ])("on %s the %s rate applies", (on, id) => {
    expect(applicableRules(dated, { region: "punjab", service: "internet", on }).map((r) => r.id)).toEqual([id]);
  });

  it("the tax point is the Karachi business date: 19:00Z on June 30 is already July 1", () => {
    expect(applicableRules(dated, { region: "x", service: "y", on: businessDate(new Date("2024-06-30T18:59:59Z")) })[0]?.id).toBe("old");
    expect(applicableRules(dated, { region: "x", service: "y", on: businessDate(new Date("2024-06-30T19:00:00Z")) })[0]?.id).toBe("new");
  });
});

describe("taxLine, exclusive", () => {
  it.each([
    // amount, bp list, taxes, gross
    [150000, [1950, 1500], [29250, 22500], 201750],
    [1, [1950], [0], 1], // 0.195 -> 0
    [3, [1950], [1], 4], // 0.585 -> 1
    [10, [1950, 1500], [2, 2], 14], // 1.95 -> 2, 1.5 -> 2 (half away from zero)
    [200, [25], [1], 201], // exactly 0.5 -> 1
    [-200, [25], [-1], -201], // a credit line: -0.5 -> -1, symmetric
    [-150000, [1950, 1500], [-29250, -22500], -201750],
    [0, [1950], [0], 0],
    [99999, [1600], [16000], 115999], // 15,999.84 -> 16,000
  ])("%i at %j bp -> taxes %j, gross %i", (amount, bps, taxes, gross) => {
    const r = taxLine(amount, bps.map((bp, i) => rule({ id: `t${i}`, rateBasisPoints: bp })));
    expect(r.netPaisa).toBe(amount);
    expect(r.taxes.map((t) => t.amountPaisa)).toEqual(taxes);
    expect(r.grossPaisa).toBe(gross);
  });
});

describe("taxLine, inclusive", () => {
  it.each([
    // price (gross), inclusive bps, net, taxes
    [116000, [1600], 100000, [16000]],
    [1000, [1950], 837, [163]], // 1000 / 1.195 = 836.82 -> 837; tax is what is left
    [150000, [1950, 1500], 111524, [21747, 16729]], // 150,000 / 1.345 = 111,524.16; 21,747.18 -> 21,747; rest 16,729
    [1, [1950], 1, [0]],
    [-116000, [1600], -100000, [-16000]],
  ])("%i including %j bp -> net %i, taxes %j", (price, bps, net, taxes) => {
    const r = taxLine(price, bps.map((bp, i) => rule({ id: `t${i}`, rateBasisPoints: bp, inclusive: true })));
    expect(r.netPaisa).toBe(net);
    expect(r.taxes.map((t) => t.amountPaisa)).toEqual(taxes);
    expect(r.grossPaisa).toBe(price);
  });

  it("mixes an inclusive sales tax with an exclusive income tax on the same net", () => {
    const r = taxLine(119500, [rule({ id: "sst", rateBasisPoints: 1950, inclusive: true }), rule({ id: "ait", rateBasisPoints: 1500 })]);
    expect([r.netPaisa, ...r.taxes.map((t) => t.amountPaisa), r.grossPaisa]).toEqual([100000, 19500, 15000, 134500]);
  });

  it("net + taxes always equals the printed price for inclusive-only rules", () => {
    const sets = [[1600], [1950], [1950, 1500], [1, 9999], [500, 500, 500]];
    const bad: unknown[] = [];
    for (const bps of sets) {
      const rs = bps.map((bp, i) => rule({ id: `t${i}`, rateBasisPoints: bp, inclusive: true }));
      for (let price = -500; price <= 20000; price += 7) {
        const r = taxLine(price, rs);
        if (r.netPaisa + r.taxes.reduce((s, t) => s + t.amountPaisa, 0) !== price || r.grossPaisa !== price) bad.push([bps, price, r]);
        // The remainder-taking tax stays within a paisa per tax of its exact share of the net.
        for (const t of r.taxes) if (Math.abs(t.amountPaisa - (r.netPaisa * t.rateBasisPoints) / 10000) > bps.length) bad.push([bps, price, t]);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe("validation", () => {
  it.each([
    ["invalid_rule", [rule({ id: "a", rateBasisPoints: 10001 })]],
    ["invalid_rule", [rule({ id: "a", rateBasisPoints: 16.5 })]],
    ["invalid_rule", [rule({ id: "a", rateBasisPoints: -1 })]],
    ["invalid_rule", [rule({ id: "a", account: "revenue:x" })]],
    ["invalid_rule", [rule({ id: "a", from: "2024-07-01", until: "2024-07-01" })]],
    ["invalid_rule", [rule({ id: "a", from: "2023-02-29" })]],
    ["invalid_rule", [rule({ id: "" })]],
    ["duplicate_rule", [rule({ id: "a" }), rule({ id: "a" })]],
  ])("%s", (code, rs) => {
    expect(() => assertTaxRules(rs)).toThrow(TaxError);
    expect(() => assertTaxRules(rs)).toThrow(expect.objectContaining({ code }));
  });

  it("the example table is valid and amounts must be safe integers", () => {
    expect(() => assertTaxRules(rules)).not.toThrow();
    expect(() => taxLine(10.5, [])).toThrow(expect.objectContaining({ code: "invalid_amount" }));
    expect(() => taxOn(Number.MAX_SAFE_INTEGER, 1600)).toThrow(expect.objectContaining({ code: "invalid_amount" }));
    const many = Array.from({ length: 9 }, (_, i) => rule({ id: `r${i}` }));
    expect(() => applicableRules(many, { region: "x", service: "y", on: "2024-01-01" })).toThrow(/at most 8/);
  });
});
