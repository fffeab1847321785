"use client";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { formatPkr } from "~/lib/money";
import { useTRPC } from "~/trpc/react";

export function StatementView({ picksDealer, defaultFrom, defaultTo }: { picksDealer: boolean; defaultFrom: string; defaultTo: string }) {
  const trpc = useTRPC();
  const [from, setFrom] = useState(defaultFrom);
  const [to, setTo] = useState(defaultTo);
  const [dealerId, setDealerId] = useState<number | null>(null);
  const dealers = useQuery(trpc.accounts.dealers.queryOptions(undefined, { enabled: picksDealer, staleTime: 60_000 })).data ?? [];
  const ready = Boolean(from && to) && (!picksDealer || dealerId !== null);
  const input = { from, to, ...(picksDealer && dealerId !== null ? { dealerId } : {}) };
  const q = useQuery(trpc.accounts.dealerStatement.queryOptions(input, { enabled: ready, retry: false }));

  return (
    <section className="card stack" data-testid="dealer-statement">
      <div className="form-grid">
        {picksDealer && (
          <label className="field">
            Dealer
            <select data-testid="statement-dealer" value={dealerId ?? ""} onChange={(e) => setDealerId(e.target.value ? Number(e.target.value) : null)}>
              <option value="">Pick a dealer…</option>
              {dealers.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.code})
                </option>
              ))}
            </select>
          </label>
        )}
        <label className="field">
          From
          <input type="date" data-testid="statement-from" value={from} max={to} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label className="field">
          To (inclusive)
          <input type="date" data-testid="statement-to" value={to} min={from} onChange={(e) => setTo(e.target.value)} />
        </label>
      </div>

      {!ready && <p className="muted">{picksDealer ? "Pick a dealer and a date range." : "Pick a date range."}</p>}
      {ready && q.isPending && <p className="muted">Loading statement…</p>}
      {q.isError && <p className="error">{q.error.message}</p>}
      {ready && q.data && (
        <>
          <dl className="kv">
            <dt>Dealer</dt>
            <dd>{q.data.dealerName}</dd>
            <dt>Opening balance</dt>
            <dd data-testid="statement-opening" data-paisa={q.data.openingPaisa}>
              {formatPkr(q.data.openingPaisa)} <span className="muted">on {q.data.from}</span>
            </dd>
            <dt>Closing balance</dt>
            <dd data-testid="statement-closing" data-paisa={q.data.closingPaisa}>
              <strong>{formatPkr(q.data.closingPaisa)}</strong> <span className="muted">after {q.data.to}</span>
            </dd>
          </dl>
          <table className="data compact" data-testid="statement-movements">
            <thead>
              <tr>
                <th>Date</th>
                <th>Movement</th>
                <th className="num">In</th>
                <th className="num">Out</th>
                <th className="num">Balance</th>
              </tr>
            </thead>
            <tbody>
              {q.data.movements.map((m, i) => (
                <tr key={`${m.transactionKey}-${i}`}>
                  <td>{m.occurredOn}</td>
                  <td>{m.description}</td>
                  <td className="num">{m.amountPaisa > 0 ? formatPkr(m.amountPaisa) : ""}</td>
                  <td className="num">{m.amountPaisa < 0 ? formatPkr(-m.amountPaisa) : ""}</td>
                  <td className="num">{formatPkr(m.balanceAfterPaisa)}</td>
                </tr>
              ))}
              {q.data.movements.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No wallet movements in this range — no top-ups, recharges or commissions were booked.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          {q.data.truncated && (
            <p className="warn">Too many movements to list them all; narrow the range. Opening and closing balances are complete.</p>
          )}
        </>
      )}
    </section>
  );
}
