import { describe, expect, it } from "vitest";
import { type BillingPlan, businessDate, periodContaining } from "./cycles";
import { allocateProportionally, buildInvoice, type Charge, type Discount, InvoiceError, invoiceLedgerTransaction, type InvoiceRequest, prorationCharges, subscriptionCharge } from "./invoice";
import { assertBalanced, balances } from "./ledger";
import { prorateChange, prorateTermination } from "./proration";
import { pakistanInternetTaxRulesExample, type TaxRule } from "./tax";

const fixedDay1: BillingPlan = { kind: "monthly_fixed_day", day: 1 };
const basic = { name: "Basic 10 Mbps", pricePaisa: 150000 };
const pro = { name: "Pro 25 Mbps", pricePaisa: 250000 };
const feb2024 = periodContaining(fixedDay1, "2024-01-01", "2024-02-10");
const feb2100 = periodContaining(fixedDay1, "2100-01-01", "2100-02-10");
const march2024 = periodContaining(fixedDay1, "2024-01-01", "2024-03-05");

// The example table plus a sales tax on equipment in Sindh, so non-internet lines are taxed too.
const taxRules: TaxRule[] = [
  ...pakistanInternetTaxRulesExample,
  { id: "sst-sindh-goods", name: "Sindh sales tax on goods", account: "tax:sst-sindh", rateBasisPoints: 1800, inclusive: false, regions: ["sindh"], services: ["equipment"] },
];

const base = (over: Partial<InvoiceRequest>): InvoiceRequest => ({
  invoiceId: "INV-1",
  subscriberId: "S1",
  region: "sindh",
  issuedOn: "2024-02-01",
  dueOn: "2024-02-10",
  charges: [subscriptionCharge(basic, feb2024)],
  taxRules,
  ...over,
});

const sumLines = (doc: ReturnType<typeof buildInvoice>) => doc.lines.reduce((s, l) => s + l.totalPaisa, 0);

describe("subscription charges", () => {
  it.each([
    [feb2024, "Basic 10 Mbps, 2024-02-01 to 2024-02-29 (29 days)"],
    [feb2100, "Basic 10 Mbps, 2100-02-01 to 2100-02-28 (28 days)"],
    [march2024, "Basic 10 Mbps, 2024-03-01 to 2024-03-31 (31 days)"],
  ])("a full period is the plan price: %o", (period, description) => {
    expect(subscriptionCharge(basic, period)).toEqual({ kind: "subscription", description, amountPaisa: 150000, service: "internet" });
  });
});

describe("buildInvoice", () => {
  it.each([
    // region, total: 150,000 + SST 29,250 (19.5%) + AIT 22,500 (15%)
    ["sindh", 29250, 201750],
    ["punjab", 24000, 196500], // PST 16%
    ["kp", 29250, 201750],
    ["ict", 24000, 196500],
    ["balochistan", 0, 172500], // no provincial rule in the table: AIT only
  ])("monthly plan in %s: provincial tax %i, total %i", (region, provincial, total) => {
    const doc = buildInvoice(base({ region }));
    expect(doc.kind).toBe("invoice");
    expect(doc.totals.totalPaisa).toBe(total);
    expect(doc.totals.taxes.find((t) => t.ruleId !== "ait")?.amountPaisa ?? 0).toBe(provincial);
    expect(doc.totals.taxes.find((t) => t.ruleId === "ait")?.amountPaisa).toBe(22500);
    expect(sumLines(doc)).toBe(total);
  });

  it("first invoice: prorated activation, installation and router with discounts, taxes per line", () => {
    const charges: Charge[] = [
      { kind: "proration", description: "Basic 10 Mbps, 2024-02-20 to 2024-02-29 (10/29 days)", amountPaisa: 51724, service: "internet" },
      { kind: "installation", description: "Installation", amountPaisa: 200000, service: "installation", discounts: [{ kind: "percentage", description: "Launch offer 50%", basisPoints: 5000 }] },
      { kind: "equipment", description: "Router", amountPaisa: 450000, service: "equipment" },
    ];
    const doc = buildInvoice(base({ charges, discounts: [{ kind: "fixed", description: "Referral", amountPaisa: 10000 }] }));
    // Line discount: 100,000 on installation. Invoice discount 10,000 over 51,724 / 100,000 / 450,000
    // (601,724) by largest remainder: 859.6 -> 860, 1,661.9 -> 1,662, 7,478.5 -> 7,478 (fractions .58, .88, .47).
    expect(doc.lines.map((l) => l.discountPaisa)).toEqual([860, 101662, 7478]);
    expect(doc.lines.map((l) => l.netPaisa)).toEqual([50864, 98338, 442522]);
    // Internet: SST 9,918.48 -> 9,918; AIT 7,629.6 -> 7,630. Installation: untaxed in this table.
    // Router: Sindh goods 18% of 442,522 = 79,653.96 -> 79,654.
    expect(doc.lines.map((l) => l.taxes.map((t) => [t.ruleId, t.amountPaisa]))).toEqual([
      [
        ["sst-sindh", 9918],
        ["ait", 7630],
      ],
      [],
      [["sst-sindh-goods", 79654]],
    ]);
    expect(doc.totals).toEqual({
      chargedPaisa: 701724,
      discountPaisa: 110000,
      netPaisa: 591724,
      taxPaisa: 97202,
      taxes: [
        { ruleId: "sst-sindh", name: "Sindh sales tax on services", account: "tax:sst-sindh", amountPaisa: 9918 },
        { ruleId: "ait", name: "Advance income tax", account: "tax:ait", amountPaisa: 7630 },
        { ruleId: "sst-sindh-goods", name: "Sindh sales tax on goods", account: "tax:sst-sindh", amountPaisa: 79654 },
      ],
      totalPaisa: 688926,
    });
    expect(sumLines(doc)).toBe(688926);

    const tx = invoiceLedgerTransaction(doc);
    expect(tx?.id).toBe("invoice:INV-1");
    const b = balances(tx ? [tx] : []);
    expect(b.get("receivable:S1")).toBe(688926);
    expect(b.get("revenue:service")).toBe(-50864);
    expect(b.get("revenue:installation")).toBe(-98338);
    expect(b.get("revenue:equipment")).toBe(-442522);
    expect(b.get("tax:sst-sindh")).toBe(-(9918 + 79654)); // two rules may share one account
    expect(b.get("tax:ait")).toBe(-7630);
  });

  it.each([
    // discounts on a 150,000 line -> line discount
    [[{ kind: "percentage", description: "10%", basisPoints: 1000 }], 15000],
    [[{ kind: "percentage", description: "1/3", basisPoints: 3333 }], 49995],
    [[{ kind: "fixed", description: "Rs 200", amountPaisa: 20000 }], 20000],
    [[{ kind: "fixed", description: "too much", amountPaisa: 999999 }], 150000], // capped at the charge
    [
      [
        { kind: "percentage", description: "10%", basisPoints: 1000 },
        { kind: "fixed", description: "Rs 50", amountPaisa: 5000 },
      ],
      20000,
    ],
  ] as Array<[Discount[], number]>)("line discounts %j -> %i", (discounts, expected) => {
    const doc = buildInvoice(base({ charges: [{ ...subscriptionCharge(basic, feb2024), discounts }] }));
    expect(doc.lines[0]?.discountPaisa).toBe(expected);
    expect(doc.lines[0]?.netPaisa).toBe(150000 - expected);
  });

  it("an invoice percentage discount is rounded once on the eligible sum, then spread", () => {
    const charges: Charge[] = [
      { kind: "subscription", description: "a", amountPaisa: 101, service: "internet" },
      { kind: "subscription", description: "b", amountPaisa: 101, service: "internet" },
      { kind: "subscription", description: "c", amountPaisa: 101, service: "internet" },
    ];
    // 303 x 5% = 15.15 -> 15, spread 5/5/5.
    const five = buildInvoice(base({ charges, discounts: [{ kind: "percentage", description: "5%", basisPoints: 500 }] }));
    expect(five.lines.map((l) => l.discountPaisa)).toEqual([5, 5, 5]);
    // 303 x 50% = 151.5 -> 152 spread 51/51/50 (per-line rounding would give 51 x 3 = 153).
    const half = buildInvoice(base({ charges, discounts: [{ kind: "percentage", description: "50%", basisPoints: 5000 }] }));
    expect(half.lines.map((l) => l.discountPaisa)).toEqual([51, 51, 50]);
    expect(half.totals.discountPaisa).toBe(152);
  });

  it("a downgrade with a termination credit turns into a credit note", () => {
    const change = prorateChange({ period: march2024, from: pro, to: basic, effectiveOn: "2024-03-11" });
    const doc = buildInvoice(base({ invoiceId: "CN-1", issuedOn: "2024-03-11", dueOn: "2024-03-21", charges: prorationCharges(change) }));
    // Credit line -169,355: SST -33,024.23 -> -33,024, AIT -25,403.25 -> -25,403.
    // Charge line 101,613: SST 19,814.54 -> 19,815, AIT 15,241.95 -> 15,242.
    expect(doc.kind).toBe("credit_note");
    expect(doc.dueOn).toBeNull();
    expect(doc.lines.map((l) => l.totalPaisa)).toEqual([-169355 - 33024 - 25403, 101613 + 19815 + 15242]);
    expect(doc.totals.totalPaisa).toBe(sumLines(doc));
    expect(doc.totals.totalPaisa).toBe(-91112);
    const tx = invoiceLedgerTransaction(doc);
    expect(tx?.id).toBe("credit_note:CN-1");
    expect(tx?.kind).toBe("credit_note");
    expect(tx?.entries.find((e) => e.account === "receivable:S1")).toEqual({ account: "receivable:S1", creditPaisa: 91112 });
  });

  it("termination on the first day credits the whole period as a credit note", () => {
    const credit = prorateTermination({ period: feb2100, plan: basic, terminatedOn: "2100-02-01" });
    const doc = buildInvoice(base({ issuedOn: "2100-02-01", dueOn: "2100-02-01", charges: prorationCharges(credit) }));
    expect(doc.totals.totalPaisa).toBe(-201750);
  });

  it("a fully discounted invoice posts nothing; a free invoice is still a document", () => {
    const doc = buildInvoice(base({ discounts: [{ kind: "percentage", description: "100%", basisPoints: 10000 }] }));
    expect(doc.totals.totalPaisa).toBe(0);
    expect(doc.kind).toBe("invoice");
    expect(invoiceLedgerTransaction(doc)).toBeNull();
    const cancel: Charge[] = [
      { kind: "proration", description: "+", amountPaisa: 1000, service: "internet" },
      { kind: "proration", description: "-", amountPaisa: -1000, service: "internet" },
    ];
    expect(invoiceLedgerTransaction(buildInvoice(base({ charges: cancel })))).toBeNull();
  });

  it("the tax point is the issue date: an invoice issued at 23:30 Karachi on June 30 uses June's rate", () => {
    const dated: TaxRule[] = [
      { id: "old", name: "old", account: "tax:pst-punjab", rateBasisPoints: 1950, inclusive: false, until: "2024-07-01" },
      { id: "new", name: "new", account: "tax:pst-punjab", rateBasisPoints: 1600, inclusive: false, from: "2024-07-01" },
    ];
    const june = buildInvoice(base({ taxRules: dated, issuedOn: businessDate(new Date("2024-06-30T18:30:00Z")), dueOn: "2024-07-10" }));
    const july = buildInvoice(base({ taxRules: dated, issuedOn: businessDate(new Date("2024-06-30T19:30:00Z")), dueOn: "2024-07-10" }));
    expect([june.issuedOn, june.totals.taxPaisa]).toEqual(["2024-06-30", 29250]);
    expect([july.issuedOn, july.totals.taxPaisa]).toEqual(["2024-07-01", 24000]);
  });

  it("random documents: totals are sums of lines and the ledger transaction balances", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const bad: unknown[] = [];
    for (let n = 0; n < 300; n++) {
      const charges: Charge[] = Array.from({ length: int(1, 5) }, (_, i) => {
        const credit = rand() < 0.2;
        return {
          kind: credit ? "proration" : ((["subscription", "installation", "equipment", "reconnection"] as const)[int(0, 3)] ?? "subscription"),
          description: `c${i}`,
          amountPaisa: credit ? -int(1, 300000) : int(1, 500000),
          service: ["internet", "equipment", "installation"][int(0, 2)] as string,
          discounts: !credit && rand() < 0.3 ? [{ kind: "percentage", description: "d", basisPoints: int(0, 10000) }] : undefined,
        };
      });
      const discounts: Discount[] = rand() < 0.3 ? [{ kind: "fixed", description: "f", amountPaisa: int(0, 200000) }] : [];
      const doc = buildInvoice(base({ invoiceId: `R${n}`, region: ["sindh", "punjab", "kp", "ict", "other"][int(0, 4)] as string, charges, discounts }));
      const lineTaxes = doc.lines.reduce((s, l) => s + l.taxes.reduce((t, x) => t + x.amountPaisa, 0), 0);
      const ok =
        doc.totals.totalPaisa === sumLines(doc) &&
        doc.totals.taxPaisa === lineTaxes &&
        doc.totals.taxes.reduce((s, t) => s + t.amountPaisa, 0) === lineTaxes &&
        doc.totals.netPaisa + doc.totals.taxPaisa === doc.totals.totalPaisa &&
        doc.totals.chargedPaisa - doc.totals.discountPaisa === doc.totals.netPaisa &&
        doc.lines.every((l) => l.discountPaisa >= 0 && l.netPaisa + l.taxes.reduce((s, t) => s + t.amountPaisa, 0) === l.totalPaisa) &&
        (doc.kind === "credit_note") === doc.totals.totalPaisa < 0;
      if (!ok) bad.push(doc);
      const tx = invoiceLedgerTransaction(doc);
      if (tx) {
        assertBalanced(tx);
        if ((balances([tx]).get("receivable:S1") ?? 0) !== doc.totals.totalPaisa) bad.push(["receivable", doc]);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe("allocateProportionally", () => {
  it.each([
    [100, [1, 1, 1], [34, 33, 33]],
    [10, [3, 7], [3, 7]],
    [1, [1, 1], [1, 0]],
    [2, [1, 2, 3], [0, 1, 1]], // 0.33, 0.67, 1.0
    [0, [5, 5], [0, 0]],
    [5, [0, 0], [0, 0]],
    [7, [0, 10], [0, 7]],
  ])("%i over %j -> %j", (total, weights, shares) => {
    expect(allocateProportionally(total, weights)).toEqual(shares);
  });
});

describe("bad input", () => {
  it.each([
    ["invalid_request", base({ charges: [] })],
    ["invalid_request", base({ invoiceId: "" })],
    ["invalid_request", base({ issuedOn: "2024-03-01", dueOn: "2024-02-29" })],
    ["invalid_charge", base({ charges: [{ kind: "installation", description: "neg", amountPaisa: -1, service: "installation" }] })],
    ["invalid_charge", base({ charges: [{ kind: "subscription", description: "float", amountPaisa: 1.5, service: "internet" }] })],
    ["invalid_discount", base({ charges: [{ kind: "proration", description: "credit", amountPaisa: -100, service: "internet", discounts: [{ kind: "fixed", description: "x", amountPaisa: 1 }] }] })],
    ["invalid_discount", base({ discounts: [{ kind: "percentage", description: "x", basisPoints: 10001 }] })],
    ["invalid_discount", base({ discounts: [{ kind: "fixed", description: "x", amountPaisa: -5 }] })],
  ])("%s", (code, request) => {
    expect(() => buildInvoice(request)).toThrow(InvoiceError);
    expect(() => buildInvoice(request)).toThrow(expect.objectContaining({ code }));
  });

  it("rejects impossible dates and invalid tax tables with their own errors", () => {
    expect(() => buildInvoice(base({ issuedOn: "2100-02-29" }))).toThrow(expect.objectContaining({ code: "invalid_date" }));
    expect(() => buildInvoice(base({ taxRules: [{ ...taxRules[0]!, rateBasisPoints: 20000 }] }))).toThrow(expect.objectContaining({ code: "invalid_rule" }));
  });
});
