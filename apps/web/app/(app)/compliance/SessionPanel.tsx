"use client";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { firstIssue, sessionQuerySchema, type SessionSearchKind } from "~/lib/compliance-query";
import { formatPkt, formatUtc, parsePktLocal, toPktLocalInput } from "~/lib/pkt";
import { useTRPC } from "~/trpc/react";
import { TimeField } from "./TimeField";

const defaultSpanDays = 30;

const placeholders: Record<SessionSearchKind, string> = {
  account: "ACC-100001",
  ip: "10.0.10.76",
  mac: "aa:bb:cc:dd:ee:ff",
};

export function SessionPanel({ nowPkt }: { nowPkt: string }) {
  const trpc = useTRPC();
  const search = useMutation(trpc.compliance.sessions.mutationOptions());
  const [by, setBy] = useState<SessionSearchKind>("account");
  const [value, setValue] = useState("");
  const [from, setFrom] = useState(() => {
    const now = parsePktLocal(nowPkt);
    return now ? toPktLocalInput(new Date(now.getTime() - defaultSpanDays * 86_400_000)).slice(0, 16) : nowPkt;
  });
  const [to, setTo] = useState(nowPkt);
  const [formError, setFormError] = useState<string | null>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const f = parsePktLocal(from);
    const t = parsePktLocal(to);
    if (!f || !t) {
      setFormError("Enter both ends of the range (PKT)");
      search.reset();
      return;
    }
    const parsed = sessionQuerySchema.safeParse({ by, value, from: f.toISOString(), to: t.toISOString() });
    if (!parsed.success) {
      setFormError(firstIssue(parsed.error));
      search.reset();
      return;
    }
    setFormError(null);
    search.mutate(parsed.data);
  };

  const data = search.data;
  return (
    <div className="stack">
      <form className="card form-grid" onSubmit={submit} noValidate data-testid="session-form">
        <label className="field">
          <span>Search by</span>
          <select value={by} onChange={(e) => setBy(e.target.value as SessionSearchKind)} data-testid="session-by">
            <option value="account">Subscriber account no</option>
            <option value="ip">IP address (framed)</option>
            <option value="mac">MAC address</option>
          </select>
        </label>
        <label className="field">
          <span>Value</span>
          <input value={value} onChange={(e) => setValue(e.target.value)} placeholder={placeholders[by]} maxLength={64} className="mono" data-testid="session-value" />
        </label>
        <TimeField label="From" value={from} onChange={setFrom} testId="session-from" />
        <TimeField label="To" value={to} onChange={setTo} testId="session-to" />
        <div className="field end">
          <button type="submit" className="primary" disabled={search.isPending} data-testid="session-submit">
            {search.isPending ? "Searching…" : "Search sessions"}
          </button>
        </div>
      </form>
      {(formError ?? search.error) && (
        <p className="error" data-testid="session-error">
          {formError ?? search.error?.message}
        </p>
      )}
      {data && !formError && (
        <section className="card stack" data-testid="session-results" data-count={data.rows.length}>
          <div className="actions-row wrap">
            <strong>
              {data.rows.length} session{data.rows.length === 1 ? "" : "s"}
            </strong>
            <span className="muted">audit #{data.auditId}</span>
          </div>
          {data.truncated && <p className="warn">Only the first {data.rows.length} sessions are shown: narrow the range.</p>}
          {data.unknownAccount ? (
            <p className="muted" data-testid="session-empty">
              No subscriber has this account number.
            </p>
          ) : data.rows.length === 0 ? (
            <p className="muted" data-testid="session-empty">
              No session in this range.
            </p>
          ) : (
            <div className="table-scroll">
              <table className="data compact">
                <thead>
                  <tr>
                    <th>Login (PKT)</th>
                    <th>Logoff (PKT)</th>
                    <th>Login / logoff (UTC)</th>
                    <th>Account</th>
                    <th>Name</th>
                    <th>CNIC</th>
                    <th>PPPoE user</th>
                    <th>Router</th>
                    <th>Framed IP</th>
                    <th>MAC</th>
                    <th>Cause</th>
                  </tr>
                </thead>
                <tbody>
                  {data.rows.map((s) => (
                    <tr key={s.id} data-testid="session-row">
                      <td className="mono">{formatPkt(s.loginAt)}</td>
                      <td className="mono">{s.logoffAt ? formatPkt(s.logoffAt) : <span className="badge online">online</span>}</td>
                      <td className="mono muted">
                        {formatUtc(s.loginAt)} – {s.logoffAt ? formatUtc(s.logoffAt) : "…"}
                      </td>
                      <td>{s.subscriber?.accountNo ?? <span className="muted">unknown</span>}</td>
                      <td>{s.subscriber?.name}</td>
                      <td className="mono">{s.subscriber?.cnic}</td>
                      <td className="mono">{s.username}</td>
                      <td>{s.routerName}</td>
                      <td className="mono">{s.framedIp ?? "—"}</td>
                      <td className="mono">{s.mac ?? "—"}</td>
                      <td>{s.terminateCause ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
