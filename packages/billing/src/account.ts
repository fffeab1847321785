// From a subscriber's stored history to what the pure core decides: the allocation
// (settle), the dunning evaluation and the writes both imply, plus the ledger
// transactions of a payment and its reversal. Plain data in and out, shaped like the
// store's (`@isp/db/billing-store` AccountHistory / DunningWrite, `@isp/db/payments`
// PaymentRules) without importing it: packages do not import each other. Shared by the
// collector's dunning run and by payments recorded from the collector or the web app.
import { type Credit, type Debit, settle } from "./allocation";
import { type DunningConfig, type DunningRecord, type EnforcementKind, evaluateDunning, defaultDunningConfig } from "./dunning";
import { type Transaction, paymentReversalTransaction, paymentTransaction } from "./ledger";

/** What the store loads per subscriber (structurally `AccountHistory` of @isp/db/billing-store). */
export interface AccountHistoryInput {
  subscriberId: number;
  planId: number;
  billingCycle: string;
  status: string;
  documents: readonly { key: string; kind: "invoice" | "credit_note"; issuedOn: string; dueOn: string | null; totalPaisa: number; status: string }[];
  payments: readonly { receiptNo: string; on: string; amountPaisa: number; reversed: boolean }[];
  record: unknown;
}

export interface DunningWriteOutput {
  subscriberId: number;
  status: string;
  state: string;
  access: string;
  record: unknown;
  actions: { key: string; type: "notification" | "enforcement"; kind: string; outboxKind: string | null; note: string | null; payload: unknown }[];
}

export interface AccountEvaluation {
  subscriberId: number;
  balancePaisa: number;
  invoiceStatuses: { key: string; status: "open" | "paid" }[];
  /** null: nothing to record (no history, nothing changed, or prepaid). */
  dunning: DunningWriteOutput | null;
}

/**
 * enforcement_outbox kinds (migration 20261124190000_enforcement_paths). flag_high_risk
 * has no network effect and no outbox kind: it is recorded in dunning_actions only.
 */
export const enforcementOutboxKinds: Readonly<Record<EnforcementKind, string | null>> = {
  throttle: "throttle",
  walled_garden: "walled_garden_on",
  suspend: "suspend",
  restore: "restore",
  terminate: "terminate",
  flag_high_risk: null,
};

export interface AccountRules {
  dunningFor(planId: number): DunningConfig;
  outboxKindOf?: Readonly<Record<EnforcementKind, string | null>>;
}

export function evaluateAccount(h: AccountHistoryInput, rules: AccountRules, now: Date): AccountEvaluation {
  const outboxKindOf = rules.outboxKindOf ?? enforcementOutboxKinds;
  const debits: Debit[] = [];
  const credits: Credit[] = [];
  for (const d of h.documents) {
    if (d.kind === "invoice") debits.push({ id: d.key, dueOn: d.dueOn ?? d.issuedOn, amountPaisa: d.totalPaisa });
    else credits.push({ id: `credit_note:${d.key}`, on: d.issuedOn, amountPaisa: -d.totalPaisa });
  }
  for (const p of h.payments) credits.push({ id: `payment:${p.receiptNo}`, on: p.on, amountPaisa: p.amountPaisa, reversed: p.reversed });
  const s = settle(debits, credits);
  const balancePaisa = s.outstandingPaisa - s.advancePaisa;
  const invoiceStatuses = s.debits.map((d) => ({ key: d.id, status: d.status === "paid" ? ("paid" as const) : ("open" as const) }));
  const current = new Map(h.documents.map((d) => [d.key, d.status]));
  const changed = invoiceStatuses.filter((u) => current.get(u.key) !== u.status);

  const recorded = (h.record as DunningRecord | null) ?? null;
  const earliest = s.debits.find((d) => d.outstandingPaisa > 0);
  // Prepaid plans expire instead of dunning; nothing owed and nothing recorded: nothing to do.
  if (h.billingCycle === "prepaid_days" || (!earliest && (recorded === null || recorded.state === "current"))) {
    return { subscriberId: h.subscriberId, balancePaisa, invoiceStatuses: changed, dunning: null };
  }
  const r = evaluateDunning(
    rules.dunningFor(h.planId),
    { subscriberId: String(h.subscriberId), balancePaisa, earliestUnpaid: earliest ? { invoiceId: earliest.id, dueOn: earliest.dueOn } : null, recorded },
    now,
  );
  const sameRecord = recorded !== null && JSON.stringify(recorded) === JSON.stringify(r.record);
  return {
    subscriberId: h.subscriberId,
    balancePaisa,
    invoiceStatuses: changed,
    dunning:
      sameRecord && r.actions.length === 0
        ? null
        : {
            subscriberId: h.subscriberId,
            status: h.status,
            state: r.state,
            access: r.access,
            record: r.record,
            actions: r.actions.map((a) => {
              const outboxKind = a.action.type === "enforcement" ? outboxKindOf[a.action.kind] : null;
              return {
                key: a.key,
                type: a.action.type,
                kind: a.action.kind,
                outboxKind,
                note: a.action.type === "enforcement" && outboxKind === null ? `no enforcement_outbox kind for ${a.action.kind}; recorded only` : null,
                payload: { invoiceId: a.invoiceId, step: a.step, state: r.state, balancePaisa, daysPastDue: r.daysPastDue },
              };
            }),
          },
  };
}

/** A stored ledger transaction: signed entries (debit +, credit −). */
export interface SignedTransaction {
  key: string;
  kind: string;
  entries: { account: string; amountPaisa: number }[];
}

function signed(tx: Transaction): SignedTransaction {
  return { key: tx.id, kind: tx.kind, entries: tx.entries.map((e) => ({ account: e.account, amountPaisa: e.debitPaisa ?? -e.creditPaisa })) };
}

function unsigned(tx: SignedTransaction): Transaction {
  type Account = Transaction["entries"][number]["account"];
  return {
    id: tx.key,
    kind: tx.kind as Transaction["kind"],
    entries: tx.entries.map((e) =>
      e.amountPaisa > 0 ? { account: e.account as Account, debitPaisa: e.amountPaisa } : { account: e.account as Account, creditPaisa: -e.amountPaisa },
    ),
  };
}

/**
 * Everything `@isp/db/payments` needs from the pure core (structurally its PaymentRules):
 * the payment's ledger transaction, its reversal, and the account evaluation.
 */
export function paymentRules(rules: AccountRules = { dunningFor: () => defaultDunningConfig }) {
  return {
    paymentLedger(p: { receiptNo: string; subscriberId: number; amountPaisa: number; method: "cash" | "bank" }): SignedTransaction {
      return signed(paymentTransaction({ paymentId: p.receiptNo, subscriberId: String(p.subscriberId), amountPaisa: p.amountPaisa, method: p.method }));
    },
    reversalLedger(original: SignedTransaction): SignedTransaction {
      return signed(paymentReversalTransaction(unsigned(original)));
    },
    evaluate(h: AccountHistoryInput, now: Date): AccountEvaluation {
      return evaluateAccount(h, rules, now);
    },
  };
}
