import { describe, expect, it } from "vitest";
import { evaluateLateFee, lateFeeAmount, LateFeeError, type LateFeeInvoiceState, type LateFeeRule } from "./late-fee";
import { balances } from "./ledger";

const fixed: LateFeeRule = { kind: "fixed", afterDays: 3, amountPaisa: 50000 };
const pct: LateFeeRule = { kind: "percentage", afterDays: 15, basisPoints: 200, minPaisa: 10000, maxPaisa: 100000 };

const invoice = (over: Partial<LateFeeInvoiceState> = {}): LateFeeInvoiceState => ({
  invoiceId: "INV-1",
  subscriberId: "S1",
  dueOn: "2024-02-29",
  outstandingPaisa: 201750,
  lateFeeCharged: false,
  ...over,
});

describe("lateFeeAmount", () => {
  it.each([
    [fixed, 1, 50000],
    [pct, 201750, 10000], // 2% = 4,035 -> raised to the minimum
    [pct, 1252500, 25050],
    [pct, 1252525, 25051], // 25,050.5 -> half away from zero
    [pct, 99999999, 100000], // capped
    [{ kind: "percentage", afterDays: 1, basisPoints: 150 } as LateFeeRule, 333, 5], // 4.995 -> 5
  ])("%o on %i -> %i", (rule, outstanding, fee) => {
    expect(lateFeeAmount(rule, outstanding)).toBe(fee);
  });
});

describe("evaluateLateFee", () => {
  it.each([
    // now (UTC instant), days overdue in Karachi, charged?
    ["2024-02-29T12:00:00Z", 0, false],
    ["2024-03-02T18:59:59Z", 2, false], // 23:59 on Mar 2 in Karachi
    ["2024-03-02T19:00:00Z", 3, true], // 00:00 on Mar 3 in Karachi
    ["2024-04-30T00:00:00Z", 61, true],
    ["2024-02-20T00:00:00Z", 0, false], // before the due date counts as 0, never negative
  ])("fixed after 3 days, due 2024-02-29 (leap day), at %s: %i days overdue, charge %s", (now, days, charge) => {
    const d = evaluateLateFee(fixed, invoice(), new Date(now));
    expect(d.daysOverdue).toBe(days);
    expect(d.charge).toBe(charge);
    if (d.charge) {
      expect(d.amountPaisa).toBe(50000);
      expect(d.transaction).toEqual({
        id: "late_fee:INV-1",
        kind: "fee",
        entries: [
          { account: "receivable:S1", debitPaisa: 50000 },
          { account: "revenue:fees", creditPaisa: 50000 },
        ],
      });
    } else {
      expect(d.reason).toBe("not_overdue_enough");
    }
  });

  it.each([
    [{ lateFeeCharged: true }, "already_charged"],
    [{ outstandingPaisa: 0 }, "paid"],
  ])("%o -> no fee (%s)", (over, reason) => {
    expect(evaluateLateFee(fixed, invoice(over), new Date("2024-06-01T00:00:00Z"))).toMatchObject({ charge: false, reason });
  });

  it("a zero fee is not charged", () => {
    expect(evaluateLateFee({ kind: "percentage", afterDays: 1, basisPoints: 1 }, invoice({ outstandingPaisa: 10 }), new Date("2024-06-01T00:00:00Z"))).toMatchObject({
      charge: false,
      reason: "zero_fee",
    });
  });

  it("percentage of what is still owed, after 15 days; December due date crosses the year", () => {
    const d = evaluateLateFee(pct, invoice({ dueOn: "2024-12-31", outstandingPaisa: 1252525 }), new Date("2025-01-14T19:00:00Z"));
    expect(d).toMatchObject({ charge: true, amountPaisa: 25051, daysOverdue: 15 });
    expect(evaluateLateFee(pct, invoice({ dueOn: "2024-12-31" }), new Date("2025-01-14T18:59:00Z")).charge).toBe(false);
  });

  it("at most once per invoice: recorded state stops it, and a racing duplicate collides on the id", () => {
    const now = new Date("2024-03-20T00:00:00Z");
    const first = evaluateLateFee(pct, invoice({ outstandingPaisa: 1252500 }), now);
    const again = evaluateLateFee(pct, invoice({ outstandingPaisa: 1252500 }), now);
    if (!first.charge || !again.charge) throw new Error("expected fees");
    expect(again.transaction).toEqual(first.transaction);
    expect(balances([first.transaction, again.transaction]).get("receivable:S1")).toBe(25050);
    // A run that saw a different outstanding amount produces the same id with another amount: refused.
    const later = evaluateLateFee(pct, invoice({ outstandingPaisa: 2000000 }), now);
    if (!later.charge) throw new Error("expected a fee");
    expect(later.transaction.id).toBe(first.transaction.id);
    expect(() => balances([first.transaction, later.transaction])).toThrow(expect.objectContaining({ code: "duplicate_id" }));
    expect(evaluateLateFee(pct, invoice({ lateFeeCharged: true }), now).charge).toBe(false);
  });

  it.each([
    [{ kind: "fixed", afterDays: 0, amountPaisa: 1 }],
    [{ kind: "fixed", afterDays: 3, amountPaisa: -1 }],
    [{ kind: "fixed", afterDays: 3, amountPaisa: 1.5 }],
    [{ kind: "percentage", afterDays: 3, basisPoints: 10001 }],
    [{ kind: "percentage", afterDays: 3, basisPoints: 100, minPaisa: 10, maxPaisa: 5 }],
    [{ kind: "weekly", afterDays: 3 }],
  ])("rejects rule %j", (rule) => {
    expect(() => evaluateLateFee(rule as LateFeeRule, invoice(), new Date("2024-06-01T00:00:00Z"))).toThrow(LateFeeError);
  });

  it("rejects a negative outstanding amount and an impossible due date", () => {
    expect(() => evaluateLateFee(fixed, invoice({ outstandingPaisa: -1 }), new Date())).toThrow(expect.objectContaining({ code: "invalid_state" }));
    expect(() => evaluateLateFee(fixed, invoice({ dueOn: "2023-02-29" }), new Date())).toThrow(expect.objectContaining({ code: "invalid_date" }));
  });
});
