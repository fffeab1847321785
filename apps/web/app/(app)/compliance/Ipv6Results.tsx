"use client";
import { useState } from "react";
import { ipv6LookupSearchParams, reportReferenceSchema } from "~/lib/compliance-query";
import { formatPkt, formatUtc } from "~/lib/pkt";
import type { Ipv6LookupResult } from "~/server/compliance/dto";
import { ExportActions } from "./ExportActions";
import { SubscriberCell } from "./SubscriberCell";

/** The answer of an IPv6 lookup: who held the delegated prefix covering the address (or inside the prefix). */
export function Ipv6Results({ result }: { result: Ipv6LookupResult }) {
  const [reference, setReference] = useState("");
  const ref = reportReferenceSchema.safeParse(reference);
  const q = result.query;
  const query = { address: q.publicIp, from: q.from, to: q.to };
  const csvHref = `/api/compliance/export/csv?${ipv6LookupSearchParams(query).toString()}`;
  const pdfHref = ref.success ? `/api/compliance/export/pdf?${ipv6LookupSearchParams(query, ref.data).toString()}` : undefined;
  const n = result.rows.length;
  return (
    <section className="card stack" data-testid="ipv6-results" data-count={n}>
      <div className="actions-row wrap">
        <strong data-testid="ipv6-summary">
          {n} holder{n === 1 ? "" : "s"} of {q.publicIp}
        </strong>
        <span className="muted">
          {formatPkt(q.from)} – {formatPkt(q.to)} ({formatUtc(q.from)} – {formatUtc(q.to)})
        </span>
        <span className="muted">audit #{result.auditId}</span>
      </div>
      {result.truncated && (
        <p className="warn" data-testid="ipv6-truncated">
          Only the first {n} holders are shown: narrow the time window or the prefix.
        </p>
      )}
      {n === 0 ? (
        <p className="muted" data-testid="ipv6-empty">
          No holder: no delegated prefix covering {q.publicIp} was leased or in use in this window. Check the address, or widen the window.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="data compact">
            <thead>
              <tr>
                <th>Held from – until (PKT / UTC)</th>
                <th>Delegated prefix</th>
                <th>Subscriber</th>
                <th>PPPoE user / router</th>
                <th>Session</th>
                <th>Source</th>
              </tr>
            </thead>
            <tbody>
              {result.rows.map((r, i) => (
                <tr key={i} data-testid="ipv6-row" data-account={r.subscriber?.accountNo ?? ""} data-source={r.source}>
                  <td className="mono">
                    <div className="stack tight">
                      <span>
                        {formatPkt(r.from)} – {r.until ? formatPkt(r.until) : "still held"}
                      </span>
                      <span className="muted">
                        {formatUtc(r.from)} – {r.until ? formatUtc(r.until) : "…"}
                      </span>
                    </div>
                  </td>
                  <td className="mono" data-testid="ipv6-prefix">
                    {r.prefix}
                  </td>
                  <td>
                    <SubscriberCell subscriber={r.subscriber} testIdPrefix="ipv6" />
                  </td>
                  <td>
                    <div className="stack tight">
                      <span className="mono">{r.username ?? "—"}</span>
                      <span>{r.routerName ?? <span className="muted">unknown router</span>}</span>
                    </div>
                  </td>
                  <td className="mono">
                    {r.source === "session" ? (
                      <div className="stack tight">
                        <span>Acct-Session-Id {r.acctSessionId ?? "—"}</span>
                        <span>
                          MAC {r.mac ?? "—"} · IPv4 {r.framedIp ?? "—"}
                        </span>
                      </div>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td title={r.source === "lease" ? "Granted from our prefix pool (ipv6_leases)" : "Reported by the router in RADIUS accounting (radius_sessions)"}>{r.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ExportActions csvHref={csvHref} pdfHref={pdfHref} reference={reference} onReference={setReference} />
    </section>
  );
}
