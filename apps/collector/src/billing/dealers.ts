// Dealer wallets: the wallet is the `dealer-wallet:<id>` ledger account. Spending is
// serialised per dealer with a row lock on the dealer, so the balance the pure
// `rechargeSubscriber` checks is the balance at commit time; concurrent recharges queue
// instead of overdrawing.
import { businessDate, formatDate } from "@isp/billing/cycles";
import { type CommissionRule, type Dealer, rechargeSubscriber } from "@isp/billing/dealer";
import { type Transaction, walletTopUpTransaction } from "@isp/billing/ledger";
import { type LedgerTxInput, accountBalance, audit, insertLedgerTransactions, withTransaction } from "@isp/db/billing-store";
import type pg from "pg";
import { type BillingConfig, defaultBillingConfig } from "./config";

const stored = (tx: Transaction, subscriberId: number | null, on: string): LedgerTxInput => ({
  key: tx.id,
  kind: tx.kind,
  subscriberId,
  occurredOn: on,
  entries: tx.entries.map((e) => ({ account: e.account, amountPaisa: e.debitPaisa ?? -e.creditPaisa })),
});

export async function topUpWallet(
  pool: pg.Pool,
  req: { dealerId: number; topUpId: string; amountPaisa: number; method: "cash" | "bank"; now: Date; operatorId: number | null; actor: string },
): Promise<{ duplicate: boolean }> {
  const tx = walletTopUpTransaction({ topUpId: req.topUpId, dealerId: String(req.dealerId), amountPaisa: req.amountPaisa, method: req.method });
  return withTransaction(pool, async (c) => {
    const inserted = await insertLedgerTransactions(c, [stored(tx, null, formatDate(businessDate(req.now)))]);
    if (inserted.length === 0) return { duplicate: true };
    await audit(c, { operatorId: req.operatorId, actor: req.actor, action: "dealer.wallet_topup", entityType: "dealer", entityId: String(req.dealerId), details: { topUpId: req.topUpId, amountPaisa: req.amountPaisa } });
    return { duplicate: false };
  });
}

export async function walletBalance(db: pg.Pool | pg.ClientBase, dealerId: number): Promise<number> {
  return -(await accountBalance(db, `dealer-wallet:${dealerId}`));
}

export interface RechargeOutcome {
  duplicate: boolean;
  grossPaisa: number;
  walletAfterPaisa: number;
  expiresOn: string;
}

/** Throws DealerError("insufficient_funds") (from the pure core) when the wallet cannot pay. */
export async function dealerRecharge(
  pool: pg.Pool,
  req: { rechargeId: string; dealerId: number; subscriberId: number; now: Date; operatorId: number | null; actor: string },
  opts: { config?: Partial<BillingConfig>; commissionRules?: readonly CommissionRule[] } = {},
): Promise<RechargeOutcome> {
  const cfg: BillingConfig = { ...defaultBillingConfig, ...opts.config };
  return withTransaction(pool, async (c) => {
    const dealer = await c.query(`SELECT id FROM dealers WHERE id = $1 FOR UPDATE`, [req.dealerId]);
    if (dealer.rowCount === 0) throw new RangeError(`dealer ${req.dealerId} does not exist`);
    const done = await c.query(`SELECT 1 FROM ledger_transactions WHERE key = $1`, [`dealer_recharge:${req.rechargeId}`]);
    if ((done.rowCount ?? 0) > 0) return { duplicate: true, grossPaisa: 0, walletAfterPaisa: await walletBalance(c, req.dealerId), expiresOn: "" };
    const sub = await c.query<{ city: string; planId: number; name: string; pricePaisa: number; validityDays: number | null; expiresOn: string | null }>(
      `SELECT s.city, p.id AS "planId", p.name, p.price_paisa AS "pricePaisa", p.validity_days AS "validityDays",
              to_char(s.expires_at AT TIME ZONE 'Asia/Karachi', 'YYYY-MM-DD') AS "expiresOn"
       FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.id = $1 FOR UPDATE OF s`,
      [req.subscriberId],
    );
    const s = sub.rows[0];
    if (!s) throw new RangeError(`subscriber ${req.subscriberId} does not exist`);
    const on = formatDate(businessDate(req.now));
    const dealers = new Map<string, Dealer>([[String(req.dealerId), { id: String(req.dealerId), parentId: null, parentShareBasisPoints: 0 }]]);
    const r = rechargeSubscriber({
      rechargeId: req.rechargeId,
      dealerId: String(req.dealerId),
      subscriberId: String(req.subscriberId),
      region: cfg.regionOfCity[s.city] ?? "unknown",
      plan: { planId: String(s.planId), name: s.name, pricePaisa: s.pricePaisa, validityDays: s.validityDays ?? 30 },
      rechargedOn: on,
      currentExpiresOn: s.expiresOn,
      walletBalancePaisa: await walletBalance(c, req.dealerId),
      taxRules: cfg.taxRules,
      dealers,
      commissionRules: opts.commissionRules ?? [],
    });
    await insertLedgerTransactions(c, r.transactions.map((tx) => stored(tx, tx.kind === "commission" ? null : req.subscriberId, on)));
    const expiresOn = formatDate(r.validity.expiresOn);
    await c.query(`UPDATE subscribers SET expires_at = ($2::date)::timestamp AT TIME ZONE 'Asia/Karachi', updated_at = now() WHERE id = $1`, [req.subscriberId, expiresOn]);
    await audit(c, {
      operatorId: req.operatorId,
      actor: req.actor,
      action: "dealer.recharge",
      entityType: "subscriber",
      entityId: String(req.subscriberId),
      details: { rechargeId: req.rechargeId, dealerId: req.dealerId, grossPaisa: r.invoice.totals.totalPaisa, commissions: r.commissions, expiresOn },
    });
    return { duplicate: false, grossPaisa: r.invoice.totals.totalPaisa, walletAfterPaisa: r.walletAfterPaisa, expiresOn };
  });
}
