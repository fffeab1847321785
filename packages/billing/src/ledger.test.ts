import { describe, expect, it } from "vitest";
import {
  type AccountId,
  assertBalanced,
  balances,
  commissionTransaction,
  creditNoteTransaction,
  dealerRechargeTransaction,
  feeTransaction,
  type Entry,
  invoiceTransaction,
  lateFeeTransaction,
  LedgerError,
  paymentReversalTransaction,
  paymentTransaction,
  postingsTransaction,
  pstPaisa,
  receivable,
  refundTransaction,
  reversalOf,
  type Transaction,
  walletBalancePaisa,
  walletTopUpTransaction,
} from "./ledger";

const tx = (entries: Entry[]): Transaction => ({ id: "t1", kind: "fee", entries });

function totals(txs: Transaction[]): { debits: number; credits: number } {
  let debits = 0;
  let credits = 0;
  for (const t of txs) {
    for (const e of t.entries) {
      if (e.debitPaisa !== undefined) debits += e.debitPaisa;
      else credits += e.creditPaisa;
    }
  }
  return { debits, credits };
}

describe("builders", () => {
  it("invoice: receivable = net + PST, tax rounded once on the net", () => {
    // Net 150,000 - 4,839 = 145,161. PST 16%: 23,225.76 -> 23,226. Total 168,387.
    const t = invoiceTransaction({
      invoiceId: "INV-1",
      subscriberId: "S1",
      lines: [
        { description: "Basic 10 Mbps, March", amountPaisa: 150000 },
        { description: "Credit: downtime", amountPaisa: -4839 },
      ],
      pstBasisPoints: 1600,
    });
    expect(t).toEqual({
      id: "invoice:INV-1",
      kind: "invoice",
      entries: [
        { account: "receivable:S1", debitPaisa: 168387 },
        { account: "revenue:service", creditPaisa: 145161 },
        { account: "tax:pst", creditPaisa: 23226 },
      ],
    });
    expect(() => assertBalanced(t)).not.toThrow();
  });

  it.each([
    [100000, 1600, 16000],
    [3125, 1600, 500], // 500.0
    [3, 1650, 0], // 0.495 -> 0
    [10, 1650, 2], // 1.65 -> 2
    [30, 1950, 6], // Sindh 19.5%: 5.85 -> 6
    [-30, 1950, -6], // negatives round away from zero
  ])("PST on %i paisa at %i bp = %i", (net, bp, tax) => {
    expect(pstPaisa(net, bp)).toBe(tax);
  });

  it("invoice ids are deterministic and an invoice without tax has two entries", () => {
    const input = { invoiceId: "INV-2", subscriberId: "S1", lines: [{ description: "x", amountPaisa: 500 }] };
    expect(invoiceTransaction(input)).toEqual(invoiceTransaction(input));
    expect(invoiceTransaction(input).entries).toHaveLength(2);
  });

  it("payment debits cash or bank and credits the receivable", () => {
    expect(paymentTransaction({ paymentId: "P1", subscriberId: "S1", amountPaisa: 168387, method: "bank" })).toEqual({
      id: "payment:P1",
      kind: "payment",
      entries: [
        { account: "bank", debitPaisa: 168387 },
        { account: "receivable:S1", creditPaisa: 168387 },
      ],
    });
  });

  it("fee charges the subscriber; refund pays out an overpayment and settles the receivable", () => {
    const history = [
      feeTransaction({ feeId: "F1", subscriberId: "S1", amountPaisa: 50000 }),
      paymentTransaction({ paymentId: "P1", subscriberId: "S1", amountPaisa: 80000, method: "cash" }),
      refundTransaction({ refundId: "R1", subscriberId: "S1", amountPaisa: 30000, method: "cash" }),
    ];
    expect(history.map((t) => [t.id, t.kind])).toEqual([
      ["fee:F1", "fee"],
      ["payment:P1", "payment"],
      ["refund:R1", "refund"],
    ]);
    const b = balances(history);
    expect(b.get("receivable:S1")).toBe(0); // 50,000 - 80,000 + 30,000
    expect(b.get("cash")).toBe(50000);
    expect(b.get("revenue:fees")).toBe(-50000);
  });

  it("credit note mirrors an invoice", () => {
    const inv = invoiceTransaction({ invoiceId: "I", subscriberId: "S9", lines: [{ description: "x", amountPaisa: 10000 }], pstBasisPoints: 1600 });
    const cn = creditNoteTransaction({ creditNoteId: "C", subscriberId: "S9", netPaisa: 10000, pstBasisPoints: 1600 });
    const b = balances([inv, cn]);
    for (const v of b.values()) expect(v).toBe(0);
    expect(cn.kind).toBe("credit_note");
  });

  it("reversal swaps sides, nets every account to zero and has a derived id", () => {
    const inv = invoiceTransaction({ invoiceId: "I", subscriberId: "S1", lines: [{ description: "x", amountPaisa: 12345 }], pstBasisPoints: 1600 });
    const rev = reversalOf(inv);
    expect(rev.id).toBe("reversal:invoice:I");
    expect(rev.kind).toBe("reversal");
    expect(rev.entries[0]).toEqual({ account: "receivable:S1", creditPaisa: 14320 }); // 12,345 + 1,975.2 -> 1,975
    const b = balances([inv, rev]);
    expect([...b.keys()].sort()).toEqual(["receivable:S1", "revenue:service", "tax:pst"]);
    for (const v of b.values()) expect(v).toBe(0);
    expect(balances([inv, rev, reversalOf(rev)])).toEqual(balances([inv]));
  });
});

describe("assertBalanced and bad input", () => {
  it.each([
    ["empty", tx([])],
    ["empty", tx([{ account: "cash", debitPaisa: 0 }, { account: "bank", creditPaisa: 0 }])],
    ["unbalanced", tx([{ account: "cash", debitPaisa: 100 }, { account: "bank", creditPaisa: 99 }])],
    ["negative_amount", tx([{ account: "cash", debitPaisa: -100 }, { account: "bank", debitPaisa: 100 }])],
    ["not_integer", tx([{ account: "cash", debitPaisa: 10.5 }, { account: "bank", creditPaisa: 10.5 }])],
    ["invalid_entry", tx([{ account: "cash", debitPaisa: 1, creditPaisa: 1 } as unknown as Entry])],
    ["invalid_entry", tx([{ account: "cash" } as unknown as Entry])],
  ])("%s", (code, t) => {
    expect(() => assertBalanced(t)).toThrow(LedgerError);
    expect(() => assertBalanced(t)).toThrow(expect.objectContaining({ code, transactionId: "t1" }));
  });

  it("builders refuse what would not balance or would be negative", () => {
    expect(() => paymentTransaction({ paymentId: "P", subscriberId: "S", amountPaisa: -5, method: "cash" })).toThrow(
      expect.objectContaining({ code: "negative_amount" }),
    );
    expect(() => paymentTransaction({ paymentId: "P", subscriberId: "S", amountPaisa: 0, method: "cash" })).toThrow(expect.objectContaining({ code: "empty" }));
    expect(() => invoiceTransaction({ invoiceId: "I", subscriberId: "S", lines: [{ description: "credit", amountPaisa: -100 }] })).toThrow(
      expect.objectContaining({ code: "negative_amount" }),
    );
    expect(() => invoiceTransaction({ invoiceId: "I", subscriberId: "S", lines: [{ description: "x", amountPaisa: 1.5 }] })).toThrow(
      expect.objectContaining({ code: "not_integer" }),
    );
    expect(() => pstPaisa(100, 16.5)).toThrow(LedgerError);
  });

  it("balances counts a replayed transaction once and rejects a reused id with other content", () => {
    const p = paymentTransaction({ paymentId: "P1", subscriberId: "S1", amountPaisa: 500, method: "cash" });
    expect(balances([p, p]).get("cash")).toBe(500);
    const other = paymentTransaction({ paymentId: "P1", subscriberId: "S1", amountPaisa: 600, method: "cash" });
    expect(() => balances([p, other])).toThrow(expect.objectContaining({ code: "duplicate_id" }));
    expect(() => balances([tx([{ account: "cash", debitPaisa: 1 }])])).toThrow(expect.objectContaining({ code: "unbalanced" }));
  });
});

// Reference model: random histories of invoices, payments and reversals, checked against
// an independent running total per subscriber that knows nothing about entries.
describe("reference model", () => {
  function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const historiesCount = 2000;

  it(`replays ${historiesCount} seeded histories`, () => {
    let reversals = 0;
    for (let seed = 1; seed <= historiesCount; seed++) {
      const rand = mulberry32(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
      const subscribers = Array.from({ length: int(1, 4) }, (_, i) => `S${seed}-${i}`);
      const history: Transaction[] = [];
      const owed = new Map<string, number>();
      const received = { cash: 0, bank: 0 };
      // What each transaction did to the model, so a reversal can undo exactly that.
      const effect = new Map<string, { subscriber: string; owedDelta: number; method?: "cash" | "bank" }>();
      const reversed = new Set<string>();
      const apply = (subscriber: string, owedDelta: number, method?: "cash" | "bank") => {
        owed.set(subscriber, (owed.get(subscriber) ?? 0) + owedDelta);
        if (method) received[method] -= owedDelta;
      };

      const steps = int(1, 25);
      for (let step = 0; step < steps; step++) {
        const subscriber = subscribers[int(0, subscribers.length - 1)] as string;
        const roll = rand();
        if (roll < 0.45) {
          const lines = Array.from({ length: int(1, 3) }, (_, i) => ({ description: `line ${i}`, amountPaisa: int(1, 500000) }));
          const bp = [0, 1600, 1950][int(0, 2)] as number;
          const t = invoiceTransaction({ invoiceId: `${seed}-${step}`, subscriberId: subscriber, lines, pstBasisPoints: bp });
          const net = lines.reduce((s, l) => s + l.amountPaisa, 0);
          // Independent tax: integer arithmetic, half away from zero on a positive net.
          const tax = Math.floor((net * bp * 2 + 10000) / 20000);
          apply(subscriber, net + tax);
          effect.set(t.id, { subscriber, owedDelta: net + tax });
          history.push(t);
        } else if (roll < 0.8) {
          const method = rand() < 0.5 ? "cash" : "bank";
          const amount = int(1, 600000);
          const t = paymentTransaction({ paymentId: `${seed}-${step}`, subscriberId: subscriber, amountPaisa: amount, method });
          apply(subscriber, -amount, method);
          effect.set(t.id, { subscriber, owedDelta: -amount, method });
          history.push(t);
        } else {
          const candidates = history.filter((t) => t.kind !== "reversal" && !reversed.has(t.id));
          const original = candidates[int(0, candidates.length - 1)];
          if (!original) continue;
          const e = effect.get(original.id);
          if (!e) throw new Error("model lost an effect");
          history.push(reversalOf(original));
          reversed.add(original.id);
          apply(e.subscriber, -e.owedDelta, e.method);
          reversals++;
        }
        // Replays of an already-recorded event must not change anything.
        if (rand() < 0.05 && history.length > 0) history.push(history[int(0, history.length - 1)] as Transaction);
      }

      const unique = [...new Map(history.map((t) => [t.id, t])).values()];
      const { debits, credits } = totals(unique);
      expect(debits).toBe(credits);

      const b = balances(history);
      expect([...b.values()].reduce((s, v) => s + v, 0)).toBe(0);
      for (const s of subscribers) expect(b.get(receivable(s)) ?? 0).toBe(owed.get(s) ?? 0);
      expect(b.get("cash" as AccountId) ?? 0).toBe(received.cash);
      expect(b.get("bank" as AccountId) ?? 0).toBe(received.bank);
      // Revenue + tax (credit-normal) equals what was invoiced and not reversed.
      const invoiced = unique.filter((t) => t.kind === "invoice" && !reversed.has(t.id)).reduce((s, t) => s + (t.entries[0]?.debitPaisa ?? 0), 0);
      expect(0 - (b.get("revenue:service") ?? 0) - (b.get("tax:pst") ?? 0)).toBe(invoiced);
    }
    expect(reversals).toBeGreaterThan(1000);
  });
});

describe("builders for the other money events", () => {
  it("postingsTransaction nets postings per account and picks the side by sign", () => {
    const t = postingsTransaction("credit_note:CN-1", "credit_note", [
      { account: "receivable:S1", amountPaisa: -1150 },
      { account: "revenue:service", amountPaisa: 2000 },
      { account: "revenue:service", amountPaisa: -1000 },
      { account: "tax:ait", amountPaisa: 150 },
      { account: "revenue:other", amountPaisa: 0 },
    ]);
    expect(t.entries).toEqual([
      { account: "receivable:S1", creditPaisa: 1150 },
      { account: "revenue:service", debitPaisa: 1000 },
      { account: "tax:ait", debitPaisa: 150 },
    ]);
    expect(() => postingsTransaction("x", "invoice", [{ account: "cash", amountPaisa: 1 }])).toThrow(expect.objectContaining({ code: "unbalanced" }));
    expect(() => postingsTransaction("x", "invoice", [{ account: "cash", amountPaisa: 0.5 }])).toThrow(expect.objectContaining({ code: "not_integer" }));
  });

  it.each([
    [lateFeeTransaction({ invoiceId: "I1", subscriberId: "S1", amountPaisa: 500 }), "late_fee:I1", [["receivable:S1", 500], ["revenue:fees", -500]]],
    [walletTopUpTransaction({ topUpId: "T1", dealerId: "D1", amountPaisa: 900, method: "bank" }), "wallet_topup:T1", [["bank", 900], ["dealer-wallet:D1", -900]]],
    [
      dealerRechargeTransaction({ rechargeId: "R1", dealerId: "D1", subscriberId: "S1", amountPaisa: 700 }),
      "dealer_recharge:R1",
      [["dealer-wallet:D1", 700], ["receivable:S1", -700]],
    ],
    [commissionTransaction({ rechargeId: "R1", dealerId: "D1", amountPaisa: 70 }), "commission:R1:D1", [["expense:commission", 70], ["dealer-wallet:D1", -70]]],
  ])("%# id %s moves %j", (t, id, moves) => {
    expect(t.id).toBe(id);
    expect([...balances([t])]).toEqual(moves);
  });

  it("wallet balance is derived and credit-normal; a payment reversal is a new transaction", () => {
    const history = [
      walletTopUpTransaction({ topUpId: "T1", dealerId: "D1", amountPaisa: 900, method: "cash" }),
      dealerRechargeTransaction({ rechargeId: "R1", dealerId: "D1", subscriberId: "S1", amountPaisa: 700 }),
      commissionTransaction({ rechargeId: "R1", dealerId: "D1", amountPaisa: 70 }),
    ];
    expect(walletBalancePaisa(history, "D1")).toBe(270);
    expect(walletBalancePaisa(history, "D2")).toBe(0);
    const p = paymentTransaction({ paymentId: "P1", subscriberId: "S1", amountPaisa: 100, method: "cash" });
    const r = paymentReversalTransaction(p);
    expect(r.id).toBe("reversal:payment:P1");
    expect(balances([p, r]).get("receivable:S1")).toBe(0);
  });
});
