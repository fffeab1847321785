import { describe, expect, it } from "vitest";
import { formatDate, prepaidRecharge } from "./cycles";
import { type CommissionRule, commissionRuleFor, commissionSplit, type DatedTransaction, type Dealer, DealerError, dealerStatement, type RechargeRequest, rechargeSubscriber } from "./dealer";
import { assertBalanced, balances, receivable, type Transaction, walletBalancePaisa, walletTopUpTransaction } from "./ledger";
import { pakistanInternetTaxRulesExample } from "./tax";

// Karachi distributor K with sub-dealer K1 (passes 25% up) and K1's sub-dealer K1a (passes 10% up).
const dealers = new Map<string, Dealer>([
  ["K", { id: "K", parentId: null, parentShareBasisPoints: 0 }],
  ["K1", { id: "K1", parentId: "K", parentShareBasisPoints: 2500 }],
  ["K1a", { id: "K1a", parentId: "K1", parentShareBasisPoints: 1000 }],
]);
const rules: CommissionRule[] = [
  { kind: "percentage", basisPoints: 1000 },
  { planId: "home-10", kind: "percentage", basisPoints: 1200 },
  { dealerId: "K1a", kind: "fixed", amountPaisa: 7777 },
  { dealerId: "K1a", planId: "home-10", kind: "percentage", basisPoints: 1500 },
];

describe("commission rules", () => {
  it.each([
    ["K", "home-25", { kind: "percentage", basisPoints: 1000 }],
    ["K", "home-10", { planId: "home-10", kind: "percentage", basisPoints: 1200 }],
    ["K1a", "home-25", { dealerId: "K1a", kind: "fixed", amountPaisa: 7777 }],
    ["K1a", "home-10", { dealerId: "K1a", planId: "home-10", kind: "percentage", basisPoints: 1500 }],
  ])("dealer %s, plan %s -> %j", (dealerId, planId, rule) => {
    expect(commissionRuleFor(rules, dealerId, planId)).toEqual(rule);
  });

  it("no rule, no commission", () => {
    expect(commissionRuleFor([], "K", "x")).toBeNull();
    expect(commissionSplit({ dealers, rules: [], dealerId: "K", planId: "x", netPaisa: 100000 })).toEqual([]);
  });

  it.each([
    // dealer, plan, net, split
    ["K", "home-25", 100000, [["K", 10000]]],
    ["K1", "home-25", 100000, [["K1", 7500], ["K", 2500]]],
    // 15% of 99,999 = 14,999.85 -> 15,000; 10% up = 1,500 (K1a keeps 13,500); 25% of 1,500 = 375 up to K.
    ["K1a", "home-10", 99999, [["K1a", 13500], ["K1", 1125], ["K", 375]]],
    // Fixed 7,777: 777.7 -> 778 up; 194.5 -> 195 up (half away from zero).
    ["K1a", "home-25", 1, [["K1a", 6999], ["K1", 583], ["K", 195]]],
  ])("%s selling %s for %i: %j", (dealerId, planId, netPaisa, split) => {
    const shares = commissionSplit({ dealers, rules, dealerId, planId, netPaisa });
    expect(shares.map((s) => [s.dealerId, s.amountPaisa])).toEqual(split);
  });

  it("rejects unknown dealers, loops and bad rules", () => {
    expect(() => commissionSplit({ dealers, rules, dealerId: "nobody", planId: "x", netPaisa: 1 })).toThrow(expect.objectContaining({ code: "unknown_dealer" }));
    const loop = new Map<string, Dealer>([
      ["A", { id: "A", parentId: "B", parentShareBasisPoints: 100 }],
      ["B", { id: "B", parentId: "A", parentShareBasisPoints: 100 }],
    ]);
    expect(() => commissionSplit({ dealers: loop, rules, dealerId: "A", planId: "x", netPaisa: 100000 })).toThrow(expect.objectContaining({ code: "dealer_cycle" }));
    const orphan = new Map<string, Dealer>([["A", { id: "A", parentId: "gone", parentShareBasisPoints: 100 }]]);
    expect(() => commissionSplit({ dealers: orphan, rules, dealerId: "A", planId: "x", netPaisa: 100000 })).toThrow(expect.objectContaining({ code: "unknown_dealer" }));
    expect(() => commissionSplit({ dealers, rules: [{ kind: "percentage", basisPoints: 20000 }], dealerId: "K", planId: "x", netPaisa: 1 })).toThrow(DealerError);
  });
});

describe("prepaid validity on recharge", () => {
  it.each([
    // recharged, days, current expiry, starts, last day, expires, extended
    ["2024-02-15", 30, null, "2024-02-15", "2024-03-15", "2024-03-16", false],
    ["2024-02-10", 30, "2024-02-15", "2024-02-15", "2024-03-15", "2024-03-16", true], // early: no days lost
    ["2024-02-15", 30, "2024-02-15", "2024-02-15", "2024-03-15", "2024-03-16", false], // on the expiry day: a fresh start
    ["2024-03-01", 30, "2024-02-15", "2024-03-01", "2024-03-30", "2024-03-31", false], // lapsed
    ["2023-02-20", 30, "2023-02-28", "2023-02-28", "2023-03-29", "2023-03-30", true], // non-leap February
    ["2024-12-31", 1, "2025-01-01", "2025-01-01", "2025-01-01", "2025-01-02", true], // on the last day of service, across the year
    ["2024-12-30", 365, "2024-12-31", "2024-12-31", "2025-12-30", "2025-12-31", true],
  ])("recharge %s for %i days with expiry %s -> %s..%s, expires %s", (rechargedOn, validityDays, currentExpiresOn, starts, last, expires, extended) => {
    const v = prepaidRecharge({ rechargedOn, validityDays, currentExpiresOn });
    expect([formatDate(v.startsOn), formatDate(v.lastDay), formatDate(v.expiresOn), v.extended]).toEqual([starts, last, expires, extended]);
  });
});

describe("rechargeSubscriber", () => {
  const request = (over: Partial<RechargeRequest> = {}): RechargeRequest => ({
    rechargeId: "R1",
    dealerId: "K1",
    subscriberId: "S1",
    region: "sindh",
    plan: { planId: "home-10", name: "Home 10 Mbps 30 days", pricePaisa: 100000, validityDays: 30 },
    rechargedOn: "2024-02-29",
    currentExpiresOn: "2024-03-05",
    walletBalancePaisa: 500000,
    taxRules: pakistanInternetTaxRulesExample,
    dealers,
    commissionRules: rules,
    ...over,
  });

  it("builds the receipt, pays it from the wallet, extends validity and pays commissions", () => {
    const r = rechargeSubscriber(request());
    // 100,000 + SST 19,500 + AIT 15,000 = 134,500 from the wallet; 12% of 100,000 = 12,000 commission, 25% to K.
    expect(r.invoice.totals.totalPaisa).toBe(134500);
    expect(r.invoice.lines[0]?.description).toBe("Home 10 Mbps 30 days, 2024-03-05 to 2024-04-03 (30 days)");
    expect(r.commissions).toEqual([
      { dealerId: "K1", amountPaisa: 9000 },
      { dealerId: "K", amountPaisa: 3000 },
    ]);
    expect(r.transactions.map((t) => t.id)).toEqual(["invoice:recharge-R1", "dealer_recharge:R1", "commission:R1:K1", "commission:R1:K"]);
    for (const t of r.transactions) assertBalanced(t);
    expect(r.walletAfterPaisa).toBe(500000 - 134500 + 9000);
    expect(formatDate(r.validity.expiresOn)).toBe("2024-04-04");

    const ledger: Transaction[] = [walletTopUpTransaction({ topUpId: "T1", dealerId: "K1", amountPaisa: 500000, method: "bank" }), ...r.transactions];
    expect(walletBalancePaisa(ledger, "K1")).toBe(r.walletAfterPaisa);
    expect(walletBalancePaisa(ledger, "K")).toBe(3000);
    const b = balances(ledger);
    expect(b.get(receivable("S1")) ?? 0).toBe(0); // prepaid: invoiced and paid at once
    expect(b.get("expense:commission")).toBe(12000);
  });

  it.each([
    [134500, true],
    [134499, false],
    [0, false],
    [-100, false],
  ])("wallet %i: recharge of 134,500 allowed %s", (wallet, ok) => {
    if (ok) {
      expect(rechargeSubscriber(request({ walletBalancePaisa: wallet })).walletAfterPaisa).toBe(9000);
    } else {
      let error: unknown;
      try {
        rechargeSubscriber(request({ walletBalancePaisa: wallet }));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DealerError);
      expect(error).toMatchObject({ code: "insufficient_funds", details: { dealerId: "K1", availablePaisa: wallet, requiredPaisa: 134500 } });
    }
  });

  it("rejects an unknown dealer and a non-positive price", () => {
    expect(() => rechargeSubscriber(request({ dealerId: "X" }))).toThrow(expect.objectContaining({ code: "unknown_dealer" }));
    expect(() => rechargeSubscriber(request({ plan: { planId: "p", name: "p", pricePaisa: 0, validityDays: 30 } }))).toThrow(expect.objectContaining({ code: "invalid_amount" }));
  });
});

describe("dealerStatement", () => {
  const topUp = (id: string, amountPaisa: number) => walletTopUpTransaction({ topUpId: id, dealerId: "K1", amountPaisa, method: "cash" });
  const recharge = rechargeSubscriber({
    rechargeId: "R1",
    dealerId: "K1",
    subscriberId: "S1",
    region: "punjab",
    plan: { planId: "home-25", name: "Home 25", pricePaisa: 200000, validityDays: 30 },
    rechargedOn: "2024-02-29",
    currentExpiresOn: null,
    walletBalancePaisa: 300000,
    taxRules: pakistanInternetTaxRulesExample,
    dealers,
    commissionRules: rules,
  });
  const history: DatedTransaction[] = [
    { bookedOn: "2024-02-28", transaction: topUp("T1", 300000) },
    ...recharge.transactions.map((transaction) => ({ bookedOn: "2024-02-29", transaction })),
    { bookedOn: "2024-02-29", transaction: topUp("T1", 300000) }, // a replay counts once
    { bookedOn: "2024-03-01", transaction: topUp("T2", 50000) },
  ];

  it("opening, movements with running balance, closing; the month ends on the leap day", () => {
    // 200,000 + PST 32,000 + AIT 30,000 = 262,000; commission 10% = 20,000, K1 keeps 15,000.
    const s = dealerStatement(history, "K1", "2024-02-29", "2024-03-01");
    expect(s).toEqual({
      dealerId: "K1",
      from: "2024-02-29",
      until: "2024-03-01",
      openingPaisa: 300000,
      movements: [
        { bookedOn: "2024-02-29", transactionId: "dealer_recharge:R1", kind: "dealer_recharge", amountPaisa: -262000, balanceAfterPaisa: 38000 },
        { bookedOn: "2024-02-29", transactionId: "commission:R1:K1", kind: "commission", amountPaisa: 15000, balanceAfterPaisa: 53000 },
      ],
      closingPaisa: 53000,
    });
    const all = dealerStatement(history, "K1", "2024-01-01", "2024-04-01");
    expect(all.openingPaisa).toBe(0);
    expect(all.closingPaisa).toBe(walletBalancePaisa(history.map((h) => h.transaction), "K1"));
    expect(dealerStatement(history, "K", "2024-01-01", "2024-04-01").closingPaisa).toBe(5000);
  });

  it("refuses a history where one id carries two different amounts", () => {
    const forged = [...history, { bookedOn: "2024-03-02", transaction: topUp("T2", 99999999) }];
    expect(() => dealerStatement(forged, "K1", "2024-01-01", "2024-04-01")).toThrow(expect.objectContaining({ code: "duplicate_id" }));
  });
});
