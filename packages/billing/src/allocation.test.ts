import { describe, expect, it } from "vitest";
import { allocatePayment, AllocationError, type Credit, type Debit, settle } from "./allocation";
import { balances, invoiceTransaction, lateFeeTransaction, paymentReversalTransaction, paymentTransaction, receivable, type Transaction } from "./ledger";

const A: Debit = { id: "invoice:A", dueOn: "2024-01-31", amountPaisa: 1000 };
const B: Debit = { id: "invoice:B", dueOn: "2024-02-29", amountPaisa: 2000 };
const C: Debit = { id: "invoice:C", dueOn: "2024-03-31", amountPaisa: 3000 };
const pay = (id: string, on: string, amountPaisa: number, reversed = false): Credit => ({ id, on, amountPaisa, reversed });

describe("settle", () => {
  it.each([
    // credits, [A, B, C outstanding], advance
    [[pay("p1", "2024-02-01", 1500)], [0, 1500, 3000], 0],
    [[pay("p1", "2024-02-01", 999)], [1, 2000, 3000], 0],
    [[pay("p1", "2024-02-01", 6000)], [0, 0, 0], 0],
    [[pay("p1", "2024-02-01", 7000)], [0, 0, 0], 1000],
    [[pay("p1", "2024-01-05", 500), pay("p2", "2024-02-05", 600), pay("p3", "2024-03-05", 700)], [0, 1200, 3000], 0],
    // A payment made before any invoice is an advance the invoices consume.
    [[pay("early", "2023-12-01", 2500)], [0, 500, 3000], 0],
    // A reversed payment takes no part.
    [[pay("p1", "2024-02-01", 1500, true), pay("p2", "2024-02-02", 200)], [800, 2000, 3000], 0],
  ])("%j -> outstanding %j, advance %i", (credits, outstanding, advance) => {
    const s = settle([C, A, B], credits);
    expect(s.debits.map((d) => d.id)).toEqual(["invoice:A", "invoice:B", "invoice:C"]); // oldest first whatever the input order
    expect(s.debits.map((d) => d.outstandingPaisa)).toEqual(outstanding);
    expect(s.advancePaisa).toBe(advance);
    expect(s.outstandingPaisa).toBe(outstanding.reduce((a, b) => a + b, 0));
    expect(s.allocations.reduce((sum, a) => sum + a.amountPaisa, 0) + s.advancePaisa).toBe(credits.filter((c) => !c.reversed).reduce((sum, c) => sum + c.amountPaisa, 0));
  });

  it("statuses and allocation rows", () => {
    const s = settle([A, B], [pay("p1", "2024-02-01", 1500)]);
    expect(s.debits.map((d) => d.status)).toEqual(["paid", "partial"]);
    expect(s.allocations).toEqual([
      { creditId: "p1", debitId: "invoice:A", amountPaisa: 1000 },
      { creditId: "p1", debitId: "invoice:B", amountPaisa: 500 },
    ]);
    expect(settle([A], []).debits[0]?.status).toBe("open");
  });

  it("the advance is carried to the next invoice", () => {
    const before = settle([A], [pay("p1", "2024-01-20", 1800)]);
    expect(before.advancePaisa).toBe(800);
    const after = settle([A, B], [pay("p1", "2024-01-20", 1800)]);
    expect(after.advancePaisa).toBe(0);
    expect(after.debits[1]).toMatchObject({ id: "invoice:B", paidPaisa: 800, outstandingPaisa: 1200, status: "partial" });
  });

  it("equal due dates keep issue order; a late fee is an item of its own", () => {
    const fee: Debit = { id: "late_fee:A", dueOn: "2024-02-10", amountPaisa: 100 };
    const B2: Debit = { id: "invoice:B2", dueOn: "2024-02-29", amountPaisa: 50 };
    const s = settle([B, B2, fee, A], [pay("p", "2024-03-01", 1150)]);
    expect(s.debits.map((d) => [d.id, d.outstandingPaisa])).toEqual([
      ["invoice:A", 0],
      ["late_fee:A", 0],
      ["invoice:B", 1950],
      ["invoice:B2", 50],
    ]);
  });

  it("allocatePayment: one new payment over what is open", () => {
    expect(allocatePayment([A, B], "p9", 2500)).toEqual({
      allocations: [
        { creditId: "p9", debitId: "invoice:A", amountPaisa: 1000 },
        { creditId: "p9", debitId: "invoice:B", amountPaisa: 1500 },
      ],
      advancePaisa: 0,
    });
    expect(allocatePayment([], "p9", 2500).advancePaisa).toBe(2500);
  });

  it("agrees with the ledger: outstanding - advance is the receivable balance, also after a reversal", () => {
    const txs: Transaction[] = [
      invoiceTransaction({ invoiceId: "A", subscriberId: "S1", lines: [{ description: "a", amountPaisa: 1000 }] }),
      invoiceTransaction({ invoiceId: "B", subscriberId: "S1", lines: [{ description: "b", amountPaisa: 2000 }] }),
      lateFeeTransaction({ invoiceId: "A", subscriberId: "S1", amountPaisa: 100 }),
    ];
    const p1 = paymentTransaction({ paymentId: "p1", subscriberId: "S1", amountPaisa: 2500, method: "cash" });
    const p2 = paymentTransaction({ paymentId: "p2", subscriberId: "S1", amountPaisa: 1000, method: "bank" });
    txs.push(p1, p2);
    const debits: Debit[] = [A, { id: "late_fee:A", dueOn: "2024-02-05", amountPaisa: 100 }, B];
    const credits = [pay("payment:p1", "2024-02-01", 2500), pay("payment:p2", "2024-02-02", 1000)];
    let s = settle(debits, credits);
    expect(s.outstandingPaisa - s.advancePaisa).toBe(balances(txs).get(receivable("S1")));
    expect(s.advancePaisa).toBe(400);

    // The wrong payment is reversed in the ledger; allocation is re-derived: p2 now pays A only.
    txs.push(paymentReversalTransaction(p1));
    s = settle(debits, credits.map((c) => (c.id === "payment:p1" ? { ...c, reversed: true } : c)));
    expect(s.outstandingPaisa - s.advancePaisa).toBe(balances(txs).get(receivable("S1")));
    expect(s.debits.map((d) => [d.id, d.status])).toEqual([
      ["invoice:A", "paid"],
      ["late_fee:A", "open"],
      ["invoice:B", "open"],
    ]);
    expect(txs.filter((t) => t.id === "payment:p1")).toHaveLength(1); // never deleted
  });

  it.each([
    [[{ ...A, amountPaisa: 0 }], []],
    [[{ ...A, amountPaisa: 1.5 }], []],
    [[A], [pay("p", "2024-01-01", -5)]],
    [[A, A], []],
    [[A], [pay("p", "2024-01-01", 5), pay("p", "2024-01-02", 5)]],
  ])("rejects %j / %j", (debits, credits) => {
    expect(() => settle(debits, credits)).toThrow(AllocationError);
  });

  it("rejects a reversal of something that is not a payment", () => {
    const inv = invoiceTransaction({ invoiceId: "A", subscriberId: "S1", lines: [{ description: "a", amountPaisa: 1000 }] });
    expect(() => paymentReversalTransaction(inv)).toThrow(expect.objectContaining({ code: "wrong_kind" }));
  });
});
