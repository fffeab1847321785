"use client";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import {
  firstIssue,
  ipv6LookupQuerySchema,
  lookupQuerySchema,
  lookupSearchParams,
  reportReferenceSchema,
  type Ipv6LookupQuery,
  type LookupQuery,
} from "~/lib/compliance-query";
import { looksLikeIpv6 } from "~/lib/ipv6";
import { formatPkt, formatUtc, parsePktLocal } from "~/lib/pkt";
import type { LookupResult, NatRecord } from "~/server/compliance/dto";
import { useTRPC } from "~/trpc/react";
import { Ipv6Results } from "./Ipv6Results";
import { ExportActions } from "./ExportActions";
import { SubscriberCell } from "./SubscriberCell";
import { TimeField } from "./TimeField";

/** Minutes either side of a single moment: router clocks and log delivery drift by seconds to minutes. */
const tolerances = [1, 5, 15, 60] as const;
const minuteMs = 60_000;

const hostPort = (ip: string, port: number | null) => (port === null ? ip : ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

type LookupForm = { ip: string; port: string; mode: "at" | "range"; at: string; tolerance: number; from: string; to: string };

/** The window the form names: a moment ± the tolerance, or a range (PKT inputs). */
function formWindow(f: LookupForm): { from: Date; to: Date } | { error: string } {
  let from: Date | null;
  let to: Date | null;
  if (f.mode === "at") {
    const at = parsePktLocal(f.at);
    if (!at) return { error: "Enter the time of the request (PKT)" };
    from = new Date(at.getTime() - f.tolerance * minuteMs);
    to = new Date(at.getTime() + f.tolerance * minuteMs);
  } else {
    from = parsePktLocal(f.from);
    to = parsePktLocal(f.to);
    if (!from || !to) return { error: "Enter both ends of the range (PKT)" };
  }
  return { from, to };
}

function buildQuery(f: LookupForm): { query: LookupQuery } | { error: string } {
  const port = f.port.trim();
  if (port !== "" && !/^\d{1,5}$/.test(port)) return { error: "Port must be a number from 0 to 65535" };
  const w = formWindow(f);
  if ("error" in w) return w;
  const { from, to } = w;
  const parsed = lookupQuerySchema.safeParse({
    publicIp: f.ip,
    publicPort: port === "" ? null : Number(port),
    from: from.toISOString(),
    to: to.toISOString(),
  });
  return parsed.success ? { query: parsed.data } : { error: firstIssue(parsed.error) };
}

/** An IPv6 address or prefix: the port (if typed) is ignored, there is no NAT to resolve. */
function buildIpv6Query(f: LookupForm): { query: Ipv6LookupQuery } | { error: string } {
  const w = formWindow(f);
  if ("error" in w) return w;
  const parsed = ipv6LookupQuerySchema.safeParse({ address: f.ip, from: w.from.toISOString(), to: w.to.toISOString() });
  return parsed.success ? { query: parsed.data } : { error: firstIssue(parsed.error) };
}

function SessionCell({ r }: { r: NatRecord }) {
  const s = r.session;
  if (!s) return <span className="muted">{r.pppoeUser ? `no session found (router named ${r.pppoeUser})` : "no session found"}</span>;
  return (
    <div className="stack tight">
      <span>login {formatPkt(s.loginAt)}</span>
      <span>logoff {s.logoffAt ? formatPkt(s.logoffAt) : "still online"}</span>
      <span className="muted">
        UTC {formatUtc(s.loginAt).replace(" UTC", "")} – {s.logoffAt ? formatUtc(s.logoffAt).replace(" UTC", "") : "…"}
      </span>
      <span className="mono">
        MAC {s.mac ?? "—"} · framed {s.framedIp ?? "—"} · {s.username}
      </span>
    </div>
  );
}

function Results({ result }: { result: LookupResult }) {
  const [reference, setReference] = useState("");
  const ref = reportReferenceSchema.safeParse(reference);
  const q = result.query;
  const csvHref = `/api/compliance/export/csv?${lookupSearchParams(q).toString()}`;
  const pdfHref = ref.success ? `/api/compliance/export/pdf?${lookupSearchParams(q, ref.data).toString()}` : undefined;
  return (
    <section className="card stack" data-testid="lookup-results" data-count={result.rows.length}>
      <div className="actions-row wrap">
        <strong data-testid="lookup-summary">
          {result.rows.length} record{result.rows.length === 1 ? "" : "s"} for {hostPort(q.publicIp, q.publicPort)}
        </strong>
        <span className="muted">
          {formatPkt(q.from)} – {formatPkt(q.to)} ({formatUtc(q.from)} – {formatUtc(q.to)})
        </span>
        <span className="muted">audit #{result.auditId}</span>
      </div>
      {result.truncated && (
        <p className="warn" data-testid="lookup-truncated">
          Only the first {result.rows.length} records are shown: narrow the time window or add the port.
        </p>
      )}
      {result.sessionsIncomplete && <p className="warn">Too many subscribers in one answer: some RADIUS sessions were not looked up.</p>}
      {result.rows.length === 0 ? (
        <p className="muted" data-testid="lookup-empty">
          No NAT record for {hostPort(q.publicIp, q.publicPort)} in this window. Check the address and port, or widen the window.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="data compact">
            <thead>
              <tr>
                <th>Time (PKT / UTC)</th>
                <th>Router / proto</th>
                <th>Private IP:port</th>
                <th>Public IP:port</th>
                <th>Destination IP:port</th>
                <th>Subscriber</th>
                <th>RADIUS session</th>
              </tr>
            </thead>
            <tbody>
              {result.rows.map((r, i) => (
                <tr key={i} data-testid="nat-row" data-account={r.subscriber?.accountNo ?? ""}>
                  <td className="mono">
                    <div className="stack tight">
                      <span>{formatPkt(r.time)}</span>
                      <span className="muted">{formatUtc(r.time)}</span>
                    </div>
                  </td>
                  <td>
                    <div className="stack tight">
                      <span>{r.routerName ?? <span className="muted">unknown router</span>}</span>
                      <span>
                        {r.protocol} <span className="muted">{r.event}</span>
                      </span>
                    </div>
                  </td>
                  <td className="mono">{hostPort(r.privateIp, r.privatePort)}</td>
                  <td className="mono">{hostPort(r.publicIp, r.publicPort)}</td>
                  <td className="mono">{hostPort(r.destIp, r.destPort)}</td>
                  <td>
                    <SubscriberCell subscriber={r.subscriber} testIdPrefix="nat" />
                  </td>
                  <td>
                    <SessionCell r={r} />
                  </td>
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

export function LookupPanel({ nowPkt }: { nowPkt: string }) {
  const trpc = useTRPC();
  const lookup = useMutation(trpc.compliance.lookup.mutationOptions());
  const lookupV6 = useMutation(trpc.compliance.lookupIpv6.mutationOptions());
  const [ip, setIp] = useState("");
  const [port, setPort] = useState("");
  const [mode, setMode] = useState<"at" | "range">("at");
  const [at, setAt] = useState(nowPkt);
  const [tolerance, setTolerance] = useState<number>(5);
  const [from, setFrom] = useState(nowPkt);
  const [to, setTo] = useState(nowPkt);
  const [formError, setFormError] = useState<string | null>(null);

  const ipv6 = looksLikeIpv6(ip);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const form = { ip, port, mode, at, tolerance, from, to };
    // One answer on screen at a time: the other kind's is cleared.
    if (ipv6) {
      lookup.reset();
      const built = buildIpv6Query(form);
      if ("error" in built) {
        setFormError(built.error);
        lookupV6.reset();
        return;
      }
      setFormError(null);
      lookupV6.mutate(built.query);
      return;
    }
    lookupV6.reset();
    const built = buildQuery(form);
    if ("error" in built) {
      setFormError(built.error);
      lookup.reset();
      return;
    }
    setFormError(null);
    lookup.mutate(built.query);
  };

  const failed = lookup.error ?? lookupV6.error;
  const serverError = failed ? (failed.data?.code === "FORBIDDEN" ? "Your role may not look up NAT records." : failed.message) : null;
  const pending = lookup.isPending || lookupV6.isPending;

  return (
    <div className="stack">
      <form className="card form-grid" onSubmit={submit} noValidate data-testid="lookup-form">
        <label className="field">
          <span>Public IP address (IPv4, or IPv6 address / prefix)</span>
          <input
            value={ip}
            onChange={(e) => setIp(e.target.value)}
            placeholder="203.0.113.10 or 2400:abcd:12:3401::10"
            maxLength={64}
            className="mono"
            data-testid="lookup-ip"
          />
        </label>
        {ipv6 ? (
          <p className="field muted" data-testid="lookup-ipv6-note">
            IPv6: no port needed. IPv6 is not translated (no NAT): the address belongs to whoever held the delegated prefix covering it at that time.
          </p>
        ) : (
          <label className="field">
            <span>Public port (optional)</span>
            <input value={port} onChange={(e) => setPort(e.target.value)} placeholder="any" inputMode="numeric" maxLength={5} className="mono" data-testid="lookup-port" />
          </label>
        )}
        <fieldset className="field">
          <span>Time</span>
          <label className="inline">
            <input type="radio" name="mode" checked={mode === "at"} onChange={() => setMode("at")} data-testid="mode-at" /> a moment
          </label>
          <label className="inline">
            <input type="radio" name="mode" checked={mode === "range"} onChange={() => setMode("range")} data-testid="mode-range" /> a range
          </label>
        </fieldset>
        {mode === "at" ? (
          <>
            <TimeField label="At" value={at} onChange={setAt} testId="lookup-at" />
            <label className="field">
              <span>Window</span>
              <select value={tolerance} onChange={(e) => setTolerance(Number(e.target.value))} data-testid="lookup-tolerance">
                {tolerances.map((m) => (
                  <option key={m} value={m}>
                    ± {m} min
                  </option>
                ))}
              </select>
            </label>
          </>
        ) : (
          <>
            <TimeField label="From" value={from} onChange={setFrom} testId="lookup-from" />
            <TimeField label="To" value={to} onChange={setTo} testId="lookup-to" />
          </>
        )}
        <div className="field end">
          <button type="submit" className="primary" disabled={pending} data-testid="lookup-submit">
            {pending ? "Looking up…" : "Look up"}
          </button>
        </div>
      </form>
      {(formError ?? serverError) && (
        <p className="error" data-testid="lookup-error">
          {formError ?? serverError}
        </p>
      )}
      {lookup.data && !formError && <Results key={lookup.data.auditId} result={lookup.data} />}
      {lookupV6.data && !formError && <Ipv6Results key={lookupV6.data.auditId} result={lookupV6.data} />}
    </div>
  );
}
