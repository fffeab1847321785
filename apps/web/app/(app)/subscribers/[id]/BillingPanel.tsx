"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import { formatDateTime } from "~/lib/format";
import { formatPkr, parseRupees } from "~/lib/money";
import type { InvoiceDto, PaymentDto } from "~/server/services/accounts";
import { useTRPC } from "~/trpc/react";

export interface PaymentPermissions {
  cash: boolean;
  bank: boolean;
  reverse: boolean;
}

const noPayments: PaymentPermissions = { cash: false, bank: false, reverse: false };

/** One key per form submission (crypto.getRandomValues works outside secure contexts too). */
function newRequestKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** tRPC input errors arrive as a JSON list of issues; show the first one's message. */
function errorText(message: string): string {
  try {
    const issues = JSON.parse(message) as unknown;
    if (Array.isArray(issues) && typeof issues[0]?.message === "string") return issues[0].message as string;
  } catch {
    // a plain message
  }
  return message;
}

/**
 * The subscriber's account, read from the ledger (accounts.subscriber), with the money
 * actions the operator's role allows: record a payment, reverse one, download invoice PDFs.
 */
export function BillingPanel({ subscriberId, permissions = noPayments }: { subscriberId: number; permissions?: PaymentPermissions }) {
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

      {(permissions.cash || permissions.bank) && <RecordPayment subscriberId={subscriberId} permissions={permissions} />}

      <h3>Payments</h3>
      <table className="data compact" data-testid="billing-payments">
        <thead>
          <tr>
            <th>Received</th>
            <th>Receipt</th>
            <th>Method</th>
            <th className="num">Amount</th>
            <th>Status</th>
            {permissions.reverse && <th />}
          </tr>
        </thead>
        <tbody>
          {a.payments.map((p) => (
            <PaymentRow key={p.receiptNo} payment={p} canReverse={permissions.reverse} subscriberId={subscriberId} />
          ))}
          {a.payments.length === 0 && (
            <tr>
              <td colSpan={permissions.reverse ? 6 : 5} className="muted">
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
          <th />
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
              <td>
                <a href={`/api/invoices/${i.id}/pdf`} download data-testid="invoice-pdf" title={`Download ${i.number} as PDF`}>
                  PDF
                </a>
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
                  <td />
                </tr>
              ))}
          </Fragment>
        ))}
        {invoices.length === 0 && (
          <tr>
            <td colSpan={8} className="muted">
              No invoices yet — the billing run has not billed this subscriber.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function useRefreshAccount(subscriberId: number) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.accounts.subscriber.queryKey({ subscriberId }) }),
      // A clearing payment restores the subscriber: the status on the page changes too.
      queryClient.invalidateQueries({ queryKey: trpc.subscriber.get.queryKey({ id: subscriberId }) }),
    ]);
  };
}

function RecordPayment({ subscriberId, permissions }: { subscriberId: number; permissions: PaymentPermissions }) {
  const trpc = useTRPC();
  const refresh = useRefreshAccount(subscriberId);
  const [method, setMethod] = useState<"cash" | "bank_transfer">(permissions.cash ? "cash" : "bank_transfer");
  const [amount, setAmount] = useState("");
  const [reference, setReference] = useState("");
  const [formError, setFormError] = useState<string | null>(null);
  // The same key for every submission of the same form contents: a double click or a retry
  // after a lost answer records once. Editing the form starts a new payment.
  const [requestKey, setRequestKey] = useState(newRequestKey);
  const edit = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setRequestKey(newRequestKey());
    setFormError(null);
  };
  const onSuccess = async () => {
    setAmount("");
    setReference("");
    setRequestKey(newRequestKey());
    await refresh();
  };
  const cash = useMutation(trpc.payments.recordCash.mutationOptions({ onSuccess }));
  const bank = useMutation(trpc.payments.recordBank.mutationOptions({ onSuccess }));
  const active = method === "cash" ? cash : bank;
  const pending = cash.isPending || bank.isPending;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (pending) return;
    const parsed = parseRupees(amount);
    if (!parsed.ok) return setFormError(parsed.error);
    const ref = reference.trim();
    if (method === "bank_transfer" && ref.length === 0) return setFormError("Enter the bank reference of the transfer");
    setFormError(null);
    cash.reset();
    bank.reset();
    if (method === "cash") cash.mutate({ subscriberId, amount, requestKey, ...(ref ? { reference: ref } : {}) });
    else bank.mutate({ subscriberId, amount, requestKey, reference: ref });
  };

  const done = active.data;
  return (
    <div className="stack" data-testid="record-payment">
      <h3>Record payment</h3>
      <form className="form-grid" onSubmit={submit} noValidate>
        <label className="field">
          <span>Method</span>
          <select value={method} onChange={(e) => edit(setMethod)(e.target.value as "cash" | "bank_transfer")} data-testid="payment-method">
            {permissions.cash && <option value="cash">Cash</option>}
            {permissions.bank && <option value="bank_transfer">Bank transfer</option>}
          </select>
        </label>
        <label className="field">
          <span>Amount (Rs)</span>
          <input value={amount} onChange={(e) => edit(setAmount)(e.target.value)} inputMode="decimal" placeholder="1,500.00" maxLength={20} className="mono" data-testid="payment-amount" />
        </label>
        <label className="field">
          <span>{method === "bank_transfer" ? "Bank reference" : "Reference (optional)"}</span>
          <input value={reference} onChange={(e) => edit(setReference)(e.target.value)} maxLength={64} className="mono" data-testid="payment-reference" />
        </label>
        <div className="field end">
          <button type="submit" className="primary" disabled={pending} data-testid="payment-submit">
            {pending ? "Recording…" : "Record payment"}
          </button>
        </div>
      </form>
      {(formError ?? active.error) && (
        <p className="error" data-testid="payment-error">
          {formError ?? errorText(active.error?.message ?? "")}
        </p>
      )}
      {done && !formError && (
        <p className="action-result ok" data-testid="payment-result" data-receipt={done.receiptNo} data-balance-paisa={done.balancePaisa}>
          Receipt <strong className="mono" data-testid="payment-receipt">{done.receiptNo}</strong>: {formatPkr(done.amountPaisa)}
          {done.duplicate ? " (already recorded)" : " recorded"}. Balance now{" "}
          {done.balancePaisa < 0 ? `${formatPkr(-done.balancePaisa)} in advance` : formatPkr(done.balancePaisa)}.
          {done.restored && " The balance is clear: service is being restored."}
        </p>
      )}
    </div>
  );
}

function PaymentRow({ payment: p, canReverse, subscriberId }: { payment: PaymentDto; canReverse: boolean; subscriberId: number }) {
  const trpc = useTRPC();
  const refresh = useRefreshAccount(subscriberId);
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const reverse = useMutation(
    trpc.payments.reverse.mutationOptions({
      onSuccess: async () => {
        setAsking(false);
        await refresh();
      },
    }),
  );
  return (
    <tr data-testid="payment-row" data-receipt={p.receiptNo} data-reversed={p.reversed}>
      <td>{formatDateTime(p.receivedAt)}</td>
      <td className="mono">{p.receiptNo}</td>
      <td>{p.method.replace("_", " ")}</td>
      <td className="num">{formatPkr(p.amountPaisa)}</td>
      <td>{p.reversed ? <span className="badge failed" title={p.reversalReason ?? ""}>reversed</span> : "received"}</td>
      {canReverse && (
        <td>
          {!p.reversed && !asking && (
            <button type="button" className="danger" onClick={() => setAsking(true)} data-testid="payment-reverse">
              Reverse
            </button>
          )}
          {!p.reversed && asking && (
            <form
              className="inline"
              onSubmit={(e) => {
                e.preventDefault();
                if (reason.trim().length >= 3 && !reverse.isPending) reverse.mutate({ receiptNo: p.receiptNo, reason: reason.trim() });
              }}
            >
              <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="Reason" maxLength={500} data-testid="reverse-reason" />
              <button type="submit" className="danger" disabled={reason.trim().length < 3 || reverse.isPending} data-testid="reverse-confirm">
                {reverse.isPending ? "Reversing…" : "Confirm reversal"}
              </button>
              <button type="button" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </form>
          )}
          {reverse.error && <span className="error">{errorText(reverse.error.message)}</span>}
        </td>
      )}
    </tr>
  );
}
