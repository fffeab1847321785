// From a subscriber's stored history to what the pure core needs: the allocation
// (settle), the dunning evaluation and the writes both imply. Shared by the dunning run
// and by payments, which re-evaluate inside their own transaction.
import type { Credit, Debit } from "@isp/billing/allocation";
import { settle } from "@isp/billing/allocation";
import { type DunningRecord, evaluateDunning } from "@isp/billing/dunning";
import type { AccountHistory, DunningWrite } from "@isp/db/billing-store";
import { type BillingConfig, outboxKindOf } from "./config";

export interface AccountEvaluation {
  subscriberId: number;
  balancePaisa: number;
  invoiceStatuses: { key: string; status: "open" | "paid" }[];
  /** null: nothing to record (no history, nothing changed, or prepaid). */
  dunning: DunningWrite | null;
}

export function evaluateAccount(h: AccountHistory, cfg: BillingConfig, now: Date): AccountEvaluation {
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
    cfg.dunningFor(h.planId),
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
