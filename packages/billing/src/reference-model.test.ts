// Reference model for the whole billing core: random histories of billing runs (with taxes,
// discounts, re-runs), plan changes (invoices or credit notes), payments, payment reversals, late fees, dealer top-ups and dealer
// recharges with commissions, replayed through the real builders. An independent model that
// knows nothing about entries keeps running totals with its own integer arithmetic; at the
// end the ledger's derived balances must match it exactly.

import { describe, expect, it } from "vitest";
import { addDays, formatDate, periodContaining, toDate } from "./cycles";
import { settle } from "./allocation";
import { type CommissionRule, type Dealer, DealerError, rechargeSubscriber } from "./dealer";
import { buildInvoice, type InvoiceRequest, invoiceLedgerTransaction, prorationCharges } from "./invoice";
import { evaluateLateFee } from "./late-fee";
import {
  type AccountId,
  balances,
  dealerWallet,
  paymentReversalTransaction,
  paymentTransaction,
  receivable,
  type Transaction,
  walletBalancePaisa,
  walletTopUpTransaction,
} from "./ledger";
import { prorateChange } from "./proration";
import { pakistanInternetTaxRulesExample } from "./tax";

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

/** Half away from zero for non-negative integers, without floating point division. */
const halfUp = (numerator: number, denominator: number) => Math.floor((2 * numerator + denominator) / (2 * denominator));

// The model's own copy of the example table: provincial rate by region, AIT everywhere, internet only.
const provincial: Record<string, { account: AccountId; bp: number } | undefined> = {
  sindh: { account: "tax:sst-sindh", bp: 1950 },
  punjab: { account: "tax:pst-punjab", bp: 1600 },
  kp: { account: "tax:st-kp", bp: 1950 },
  ict: { account: "tax:st-ict", bp: 1600 },
};
const regions = ["sindh", "punjab", "kp", "ict", "gilgit"];

const dealers = new Map<string, Dealer>([
  ["K", { id: "K", parentId: null, parentShareBasisPoints: 0 }],
  ["K1", { id: "K1", parentId: "K", parentShareBasisPoints: 2500 }],
]);
const commissionRules: CommissionRule[] = [{ kind: "percentage", basisPoints: 1000 }];
const lateFee = { kind: "fixed", afterDays: 3, amountPaisa: 5000 } as const;

const historiesCount = 1000;

describe("reference model", () => {
  it(`replays ${historiesCount} seeded histories through every builder`, () => {
    const seen = { planChanges: 0, invoices: 0, reruns: 0, payments: 0, reversals: 0, lateFees: 0, refusedRecharges: 0, recharges: 0, topUps: 0 };
    for (let seed = 1; seed <= historiesCount; seed++) {
      const rand = mulberry32(seed);
      // Plain checks: thousands of expect() calls would cost more than the model itself.
      const same = (actual: unknown, expected: unknown, what: string) => {
        if (!Object.is(actual, expected)) throw new Error(`seed ${seed}: ${what}: got ${String(actual)}, expected ${String(expected)}`);
      };
      const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
      const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;

      const subscribers = Array.from({ length: int(1, 4) }, (_, i) => ({ id: `S${seed}-${i}`, region: pick(regions), pricePaisa: int(1, 40) * 50000 - int(0, 99) }));
      const history: Transaction[] = [];
      let day = toDate("2024-01-25");

      // The model.
      const owed = new Map<string, number>();
      const money = { cash: 0, bank: 0 };
      const wallet = new Map<string, number>([
        ["K", 0],
        ["K1", 0],
      ]);
      const tax = new Map<AccountId, number>();
      let revenue = 0;
      let commission = 0;
      const periodsBilled = new Map<string, number>();
      const issued: Array<{ id: string; subscriberId: string; dueOn: string; totalPaisa: number; request: InvoiceRequest }> = [];
      const lateFeed = new Set<string>();
      const payments: Array<{ tx: Transaction; subscriberId: string; on: string; amountPaisa: number; method: "cash" | "bank"; reversed: boolean }> = [];
      const recharges: Array<{ subscriberId: string; invoiceTxId: string; on: string; amountPaisa: number }> = [];
      const changes: Array<{ subscriberId: string; id: string; on: string; dueOn: string; totalPaisa: number }> = [];
      const lateFees: Array<{ subscriberId: string; id: string; dueOn: string; amountPaisa: number }> = [];
      const bump = <K>(m: Map<K, number>, k: K, v: number) => m.set(k, (m.get(k) ?? 0) + v);
      const taxesOf = (region: string, service: string, net: number): Array<[AccountId, number]> => {
        if (service !== "internet") return [];
        const p = provincial[region];
        return [...(p ? ([[p.account, halfUp(net * p.bp, 10000)]] as Array<[AccountId, number]>) : []), ["tax:ait", halfUp(net * 1500, 10000)]];
      };

      const steps = int(5, 30);
      for (let step = 0; step < steps; step++) {
        day = addDays(day, int(0, 6));
        const today = formatDate(day);
        const sub = pick(subscribers);
        const roll = rand();
        if (roll < 0.27) {
          // Billing run for the subscriber's next period; the first one has an installation with a discount.
          const k = periodsBilled.get(sub.id) ?? 0;
          periodsBilled.set(sub.id, k + 1);
          const install = k === 0 ? int(0, 300000) : 0;
          const installDiscount = int(0, 400000);
          const request: InvoiceRequest = {
            invoiceId: `${sub.id}-P${k}`,
            subscriberId: sub.id,
            region: sub.region,
            issuedOn: today,
            dueOn: formatDate(addDays(day, 10)),
            charges: [
              { kind: "subscription", description: `period ${k}`, amountPaisa: sub.pricePaisa, service: "internet" },
              ...(install > 0
                ? [{ kind: "installation" as const, description: "Installation", amountPaisa: install, service: "installation", discounts: [{ kind: "fixed" as const, description: "offer", amountPaisa: installDiscount }] }]
                : []),
            ],
            taxRules: pakistanInternetTaxRulesExample,
          };
          const doc = buildInvoice(request);
          const tx = invoiceLedgerTransaction(doc);
          if (!tx) throw new Error("a positive plan price must post");
          history.push(tx);
          const installNet = install - Math.min(install, installDiscount);
          let total = sub.pricePaisa + installNet;
          for (const [account, amount] of taxesOf(sub.region, "internet", sub.pricePaisa)) {
            bump(tax, account, amount);
            total += amount;
          }
          revenue += sub.pricePaisa + installNet;
          bump(owed, sub.id, total);
          issued.push({ id: doc.invoiceId, subscriberId: sub.id, dueOn: doc.dueOn as string, totalPaisa: total, request });
          seen.invoices++;
        } else if (roll < 0.35) {
          // Plan change in the current calendar month: credit the unused old plan, charge the new
          // one; a downgrade usually nets negative and becomes a credit note.
          const newPrice = int(1, 40) * 50000 - int(0, 99);
          const period = periodContaining({ kind: "monthly_fixed_day", day: 1 }, "2024-01-01", today);
          const change = prorateChange({ period, from: { name: "old", pricePaisa: sub.pricePaisa }, to: { name: "new", pricePaisa: newPrice }, effectiveOn: today });
          const doc = buildInvoice({
            invoiceId: `change-${seed}-${step}`,
            subscriberId: sub.id,
            region: sub.region,
            issuedOn: today,
            dueOn: formatDate(addDays(day, 10)),
            charges: prorationCharges(change),
            taxRules: pakistanInternetTaxRulesExample,
          });
          // The model's own day count: from today to the first of next month, of the month's days.
          const y = day.y;
          const m = day.m;
          const monthDays = (Date.UTC(y, m, 1) - Date.UTC(y, m - 1, 1)) / 86400000;
          const days = monthDays - day.d + 1;
          let total = 0;
          for (const [sign, price] of [
            [-1, sub.pricePaisa],
            [1, newPrice],
          ] as const) {
            const net = halfUp(price * days, monthDays);
            total += sign * net;
            revenue += sign * net;
            for (const [account, amount] of taxesOf(sub.region, "internet", net)) {
              bump(tax, account, sign * amount);
              total += sign * amount;
            }
          }
          same(doc.totals.totalPaisa, total, `plan change total on ${today}`);
          same(doc.kind, total < 0 ? "credit_note" : "invoice", "document kind");
          const tx = invoiceLedgerTransaction(doc);
          if (tx) history.push(tx);
          else same(total, 0, "a change that posts nothing nets to zero");
          bump(owed, sub.id, total);
          if (total !== 0) changes.push({ subscriberId: sub.id, id: tx?.id as string, on: today, dueOn: doc.dueOn ?? today, totalPaisa: total });
          sub.pricePaisa = newPrice;
          seen.planChanges++;
        } else if (roll < 0.4 && issued.length > 0) {
          // A crashed run is re-run: the same inputs must give the same transaction, counted once.
          const again = invoiceLedgerTransaction(buildInvoice(pick(issued).request));
          if (again) history.push(again);
          seen.reruns++;
        } else if (roll < 0.58) {
          const method = rand() < 0.5 ? "cash" : "bank";
          const amountPaisa = int(1, 600000);
          const tx = paymentTransaction({ paymentId: `${seed}-${step}`, subscriberId: sub.id, amountPaisa, method });
          history.push(tx);
          payments.push({ tx, subscriberId: sub.id, on: today, amountPaisa, method, reversed: false });
          bump(owed, sub.id, -amountPaisa);
          money[method] += amountPaisa;
          seen.payments++;
        } else if (roll < 0.65) {
          const live = payments.filter((p) => !p.reversed);
          if (live.length === 0) continue;
          const p = pick(live);
          history.push(paymentReversalTransaction(p.tx));
          p.reversed = true;
          bump(owed, p.subscriberId, p.amountPaisa);
          money[p.method] -= p.amountPaisa;
          seen.reversals++;
        } else if (roll < 0.75) {
          const mine = issued.filter((i) => i.subscriberId === sub.id);
          if (mine.length === 0) continue;
          const inv = pick(mine);
          const s = settleFor(sub.id);
          const outstanding = s.debits.find((d) => d.id === `invoice:${inv.id}`)?.outstandingPaisa ?? 0;
          const now = new Date(`${formatDate(addDays(toDate(inv.dueOn), int(0, 8)))}T12:00:00+05:00`);
          const daysOverdue = Math.max(0, Math.round((now.getTime() - Date.parse(`${inv.dueOn}T12:00:00+05:00`)) / 86400000));
          const decision = evaluateLateFee(lateFee, { invoiceId: inv.id, subscriberId: sub.id, dueOn: inv.dueOn, outstandingPaisa: outstanding, lateFeeCharged: lateFeed.has(inv.id) }, now);
          const expected = !lateFeed.has(inv.id) && outstanding > 0 && daysOverdue >= 3;
          same(decision.charge, expected, `late fee on ${inv.id}`);
          if (decision.charge) {
            history.push(decision.transaction);
            lateFeed.add(inv.id);
            lateFees.push({ subscriberId: sub.id, id: decision.transaction.id, dueOn: formatDate(businessDay(now)), amountPaisa: 5000 });
            bump(owed, sub.id, 5000);
            revenue += 5000;
            seen.lateFees++;
          }
        } else if (roll < 0.82) {
          const dealerId = pick(["K", "K1"]);
          const method = rand() < 0.5 ? "cash" : "bank";
          const amountPaisa = int(1, 8) * 300000;
          history.push(walletTopUpTransaction({ topUpId: `${seed}-${step}`, dealerId, amountPaisa, method }));
          bump(wallet, dealerId, amountPaisa);
          money[method] += amountPaisa;
          seen.topUps++;
        } else if (roll < 0.95) {
          const dealerId = pick(["K", "K1"]);
          const price = int(1, 30) * 10000 + int(0, 99);
          const taxes = taxesOf(sub.region, "internet", price);
          const gross = price + taxes.reduce((s, [, v]) => s + v, 0);
          const available = walletBalancePaisa(history, dealerId);
          same(available, wallet.get(dealerId), `wallet ${dealerId} before recharge`);
          let result: ReturnType<typeof rechargeSubscriber> | undefined;
          try {
            result = rechargeSubscriber({
              rechargeId: `${seed}-${step}`,
              dealerId,
              subscriberId: sub.id,
              region: sub.region,
              plan: { planId: "prepaid-30", name: "Prepaid 30 days", pricePaisa: price, validityDays: 30 },
              rechargedOn: today,
              currentExpiresOn: null,
              walletBalancePaisa: available,
              taxRules: pakistanInternetTaxRulesExample,
              dealers,
              commissionRules,
            });
          } catch (error) {
            if (!(error instanceof DealerError) || error.code !== "insufficient_funds") throw error;
          }
          if (gross > available) {
            same(result, undefined, "recharge beyond the wallet");
            seen.refusedRecharges++;
            continue;
          }
          if (!result) throw new Error(`recharge of ${gross} refused with ${available} in the wallet`);
          history.push(...result.transactions);
          const c = halfUp(price * 1000, 10000);
          const up = dealerId === "K1" ? halfUp(c * 2500, 10000) : 0;
          bump(wallet, dealerId, -gross + c - up);
          if (up > 0) bump(wallet, "K", up);
          commission += c;
          revenue += price;
          for (const [account, amount] of taxes) bump(tax, account, amount);
          recharges.push({ subscriberId: sub.id, invoiceTxId: result.transactions[0]?.id as string, on: today, amountPaisa: gross });
          seen.recharges++;
        }
        for (const [d, v] of wallet) if (v < 0) throw new Error(`model wallet ${d} went negative`);
        if (rand() < 0.05 && history.length > 0) history.push(pick(history));
      }

      function businessDay(now: Date) {
        return toDate(new Date(now.getTime() + 5 * 3600000).toISOString().slice(0, 10));
      }
      function settleFor(subscriberId: string) {
        return settle(
          [
            ...issued.filter((i) => i.subscriberId === subscriberId).map((i) => ({ id: `invoice:${i.id}`, dueOn: i.dueOn, amountPaisa: i.totalPaisa })),
            ...lateFees.filter((f) => f.subscriberId === subscriberId),
            ...recharges.filter((r) => r.subscriberId === subscriberId).map((r) => ({ id: r.invoiceTxId, dueOn: r.on, amountPaisa: r.amountPaisa })),
            ...changes.filter((c) => c.subscriberId === subscriberId && c.totalPaisa > 0).map((c) => ({ id: c.id, dueOn: c.dueOn, amountPaisa: c.totalPaisa })),
          ],
          [
            ...payments.filter((p) => p.subscriberId === subscriberId).map((p) => ({ id: p.tx.id, on: p.on, amountPaisa: p.amountPaisa, reversed: p.reversed })),
            ...recharges.filter((r) => r.subscriberId === subscriberId).map((r) => ({ id: `wallet:${r.invoiceTxId}`, on: r.on, amountPaisa: r.amountPaisa })),
            ...changes.filter((c) => c.subscriberId === subscriberId && c.totalPaisa < 0).map((c) => ({ id: c.id, on: c.on, amountPaisa: -c.totalPaisa })),
          ],
        );
      }

      // Debits equal credits over the distinct transactions, and every account sums to zero.
      const unique = [...new Map(history.map((t) => [t.id, t])).values()];
      let debits = 0;
      let credits = 0;
      for (const t of unique) {
        for (const e of t.entries) {
          if (e.debitPaisa !== undefined) debits += e.debitPaisa;
          else credits += e.creditPaisa;
        }
      }
      same(debits, credits, "debits vs credits");
      const b = balances(history);
      same([...b.values()].reduce((s, v) => s + v, 0), 0, "sum of balances");

      // No invoice issued twice: re-runs and replays collapse onto the periods actually billed.
      const invoiceIds = unique.filter((t) => t.kind === "invoice" && !t.id.startsWith("invoice:recharge-") && !t.id.startsWith("invoice:change-")).map((t) => t.id);
      same(invoiceIds.length, issued.length, "invoices in the ledger");
      same(new Set(invoiceIds).size, [...periodsBilled.values()].reduce((s, v) => s + v, 0), "distinct invoice ids");

      for (const s of subscribers) {
        same(b.get(receivable(s.id)) ?? 0, owed.get(s.id) ?? 0, `receivable of ${s.id}`);
        // Allocation agrees with the ledger: what is outstanding minus the advance is the receivable.
        const st = settleFor(s.id);
        same(st.outstandingPaisa - st.advancePaisa, owed.get(s.id) ?? 0, `allocation of ${s.id}`);
      }
      same(b.get("cash") ?? 0, money.cash, "cash");
      same(b.get("bank") ?? 0, money.bank, "bank");
      for (const [d, v] of wallet) {
        same(v >= 0, true, `wallet ${d} non-negative`);
        same(0 - (b.get(dealerWallet(d)) ?? 0), v, `wallet ${d}`);
      }
      for (const [account, v] of tax) same(0 - (b.get(account) ?? 0), v, account);
      const revenueBooked = [...b].filter(([k]) => k.startsWith("revenue:")).reduce((s, [, v]) => s - v, 0);
      same(revenueBooked, revenue, "revenue");
      same(b.get("expense:commission") ?? 0, commission, "commission");
    }
    // The histories must actually exercise every path.
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(historiesCount / 4);
  });
});
