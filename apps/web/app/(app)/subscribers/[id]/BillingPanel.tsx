"use client";
import { useQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { formatDateTime } from "~/lib/format";
import { formatPkr } from "~/lib/money";
import type { InvoiceDto } from "~/server/services/accounts";
import { useTRPC } from "~/trpc/react";

/** The subscriber's account, read from the ledger (accounts.subscriber); read-only. */
export function BillingPanel({ subscriberId }: { subscriberId: number }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.accounts.subscriber.queryOptions({ subscriberId }, { staleTime: 30_000 }));
  if (q.isPending) {
    return (
      <section className="card" data-testid="billing-panel">
        <h2>Billing</h2>
        <p className="muted">Loading account…</p>
      </section>
    );
  }
  if (q.isError) {
    return (
      <section className="card" data-testid="billing-panel">
        <h2>Billing</h2>
        <p className="error">Could not load the account: {q.error.message}</p>
      </section>
    );
  }
  const a = q.data;
  const balanceText = a.balancePaisa < 0 ? `${formatPkr(-a.balancePaisa)} in advance` : formatPkr(a.balancePaisa);
  return (
    <section className="card stack" data-testid="billing-panel">
      <h2>Billing</h2>
      <div className="grid-2">
        <div>
          <div className="stat-label">Balance (owed)</div>
          <div className="stat-value" data-testid="billing-balance" data-paisa={a.balancePaisa}>
            {balanceText}
          </div>
          <div className="muted">
            From {a.ledgerTotal} ledger {a.ledgerTotal === 1 ? "entry" : "entries"} on <span className="mono">{a.account}</span>
          </div>
        </div>
        <dl className="kv" data-testid="billing-dunning">
          <dt>Open invoices</dt>
          <dd>{a.openInvoices.length === 0 ? "none" : a.openInvoices.map((i) => `${i.number} due ${i.dueOn}`).join(", ")}</dd>
          <dt>Dunning</dt>
          <dd>{a.dunning ? `${a.dunning.state} (access: ${a.dunning.access})` : "no dunning record — never evaluated"}</dd>
          {a.dunning && (
            <>
              <dt>Current step</dt>
              <dd>{a.dunning.currentStep ?? "—"}</dd>
              <dt>For invoice</dt>
              <dd className="mono">{a.dunning.invoiceKey ?? "—"}</dd>
              <dt>Evaluated</dt>
              <dd>{formatDateTime(a.dunning.updatedAt)}</dd>
            </>
          )}
        </dl>
      </div>

      <h3>Invoices</h3>
      <InvoiceTable invoices={a.invoices} />

      <h3>Payments</h3>
      <table className="data compact" data-testid="billing-payments">
        <thead>
          <tr>
            <th>Received</th>
            <th>Receipt</th>
            <th>Method</th>
            <th className="num">Amount</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {a.payments.map((p) => (
            <tr key={p.receiptNo} data-reversed={p.reversed}>
              <td>{formatDateTime(p.receivedAt)}</td>
              <td className="mono">{p.receiptNo}</td>
              <td>{p.method.replace("_", " ")}</td>
              <td className="num">{formatPkr(p.amountPaisa)}</td>
              <td>{p.reversed ? <span className="badge failed" title={p.reversalReason ?? ""}>reversed</span> : "received"}</td>
            </tr>
          ))}
          {a.payments.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No payments recorded.
              </td>
            </tr>
          )}
        </tbody>
      </table>

      <h3>Ledger</h3>
      <table className="data compact" data-testid="billing-ledger">
        <thead>
          <tr>
            <th>Date</th>
            <th>Description</th>
            <th className="num">Debit</th>
            <th className="num">Credit</th>
            <th className="num">Balance</th>
          </tr>
        </thead>
        <tbody>
          {a.ledger.map((r, i) => (
            <tr key={`${r.transactionKey}-${i}`}>
              <td>{r.occurredOn}</td>
              <td>{r.description}</td>
              <td className="num">{r.debitPaisa ? formatPkr(r.debitPaisa) : ""}</td>
              <td className="num">{r.creditPaisa ? formatPkr(r.creditPaisa) : ""}</td>
              <td className="num">{formatPkr(r.balancePaisa)}</td>
            </tr>
          ))}
          {a.ledger.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No ledger entries yet — nothing has been billed or paid on this account.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {a.ledgerTotal > a.ledger.length && (
        <p className="muted">
          Showing the newest {a.ledger.length} of {a.ledgerTotal} entries; the balance covers all of them.
        </p>
      )}
    </section>
  );
}

function InvoiceTable({ invoices }: { invoices: InvoiceDto[] }) {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <table className="data compact" data-testid="billing-invoices">
      <thead>
        <tr>
          <th>Number</th>
          <th>Period</th>
          <th>Due</th>
          <th className="num">Net</th>
          <th className="num">Tax</th>
          <th className="num">Total</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {invoices.map((i) => (
          <Fragment key={i.id}>
            <tr data-testid="invoice-row" data-kind={i.kind} data-period-start={i.periodStart} data-total-paisa={i.totalPaisa}>
              <td>
                <button type="button" className="link" aria-expanded={open === i.id} onClick={() => setOpen(open === i.id ? null : i.id)}>
                  {open === i.id ? "▾" : "▸"} {i.number}
                </button>
                {i.kind === "credit_note" && <span className="badge"> credit note</span>}
              </td>
              <td>
                {i.periodStart} – {i.periodEnd}
              </td>
              <td>{i.kind === "credit_note" ? "—" : i.dueOn}</td>
              <td className="num">{formatPkr(i.netPaisa)}</td>
              <td className="num">{formatPkr(i.taxPaisa)}</td>
              <td className="num">{formatPkr(i.totalPaisa)}</td>
              <td>
                <span className={`badge ${i.status}`}>{i.status}</span>
              </td>
            </tr>
            {open === i.id &&
              i.lines.map((l) => (
                <tr key={`${i.id}-${l.position}`} className="muted" data-testid="invoice-line">
                  <td />
                  <td colSpan={2}>
                    {l.description}
                    {l.discountPaisa !== 0 && ` (discount ${formatPkr(l.discountPaisa)})`}
                  </td>
                  <td className="num">{formatPkr(l.netPaisa)}</td>
                  <td className="num" title={l.taxes.map((t) => `${t.ruleId}: ${formatPkr(t.amountPaisa)}`).join("\n")}>
                    {formatPkr(l.taxPaisa)}
                    {l.taxes.length > 0 && <div>{l.taxes.map((t) => t.ruleId).join(", ")}</div>}
                  </td>
                  <td className="num">{formatPkr(l.totalPaisa)}</td>
                  <td />
                </tr>
              ))}
          </Fragment>
        ))}
        {invoices.length === 0 && (
          <tr>
            <td colSpan={7} className="muted">
              No invoices yet — the billing run has not billed this subscriber.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
