import { describe, expect, it } from "vitest";
import { enforcementOutboxKinds, evaluateAccount, paymentRules } from "./account";
import { defaultDunningConfig } from "./dunning";

const rules = { dunningFor: () => defaultDunningConfig };
const history = (payments: { receiptNo: string; amountPaisa: number; reversed?: boolean }[], record: unknown = null) => ({
  subscriberId: 7,
  planId: 1,
  billingCycle: "monthly",
  status: "suspended",
  documents: [{ key: "7:2026-10-01", kind: "invoice" as const, issuedOn: "2026-10-01", dueOn: "2026-10-11", totalPaisa: 100_000, status: "open" }],
  payments: payments.map((p) => ({ on: "2026-10-20", reversed: false, ...p })),
  record,
});

describe("paymentRules", () => {
  const r = paymentRules(rules);

  it("posts a payment to cash or bank against the receivable, and its reversal nets it to zero", () => {
    const pay = r.paymentLedger({ receiptNo: "RCT-2026-0000001", subscriberId: 7, amountPaisa: 12_345, method: "bank" });
    expect(pay).toEqual({
      key: "payment:RCT-2026-0000001",
      kind: "payment",
      entries: [
        { account: "bank", amountPaisa: 12_345 },
        { account: "receivable:7", amountPaisa: -12_345 },
      ],
    });
    const rev = r.reversalLedger(pay);
    expect(rev.key).toBe("reversal:payment:RCT-2026-0000001");
    expect(rev.kind).toBe("reversal");
    const net = new Map<string, number>();
    for (const e of [...pay.entries, ...rev.entries]) net.set(e.account, (net.get(e.account) ?? 0) + e.amountPaisa);
    expect([...net.values()]).toEqual([0, 0]);
  });

  it("refuses to reverse something that is not a payment", () => {
    expect(() => r.reversalLedger({ key: "invoice:7:2026-10-01", kind: "invoice", entries: [{ account: "receivable:7", amountPaisa: 1 }, { account: "revenue:service", amountPaisa: -1 }] })).toThrow(/not a payment/);
  });
});

describe("evaluateAccount", () => {
  const now = new Date("2026-10-25T06:00:00Z"); // 14 days past due: suspended by the default ladder
  it("suspends an unpaid account and restores it once the balance clears", () => {
    const unpaid = evaluateAccount(history([]), rules, now);
    expect(unpaid.balancePaisa).toBe(100_000);
    expect(unpaid.dunning?.access).toBe("suspended");
    expect(unpaid.dunning?.actions.map((a) => a.outboxKind)).toContain("suspend");

    const partial = evaluateAccount(history([{ receiptNo: "A", amountPaisa: 40_000 }], unpaid.dunning?.record), rules, now);
    expect(partial.balancePaisa).toBe(60_000);
    expect(partial.dunning?.actions ?? []).toEqual([]);

    const cleared = evaluateAccount(history([{ receiptNo: "A", amountPaisa: 40_000 }, { receiptNo: "B", amountPaisa: 60_000 }], unpaid.dunning?.record), rules, now);
    expect(cleared.balancePaisa).toBe(0);
    expect(cleared.invoiceStatuses).toEqual([{ key: "7:2026-10-01", status: "paid" }]);
    expect(cleared.dunning?.actions.map((a) => [a.kind, a.outboxKind])).toEqual([
      ["restore", "restore"],
      ["service_restored", null],
    ]);

    // A reversed payment does not count.
    const reversed = evaluateAccount(history([{ receiptNo: "B", amountPaisa: 100_000, reversed: true }], unpaid.dunning?.record), rules, now);
    expect(reversed.balancePaisa).toBe(100_000);
  });

  it("maps every enforcement kind; flag_high_risk has no outbox kind", () => {
    expect(enforcementOutboxKinds.flag_high_risk).toBeNull();
    expect(enforcementOutboxKinds.walled_garden).toBe("walled_garden_on");
  });
});
