"use client";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo, useState } from "react";
import { describeAuthReason, reasonOptions } from "~/lib/auth-reasons";
import { formatPkt } from "~/lib/pkt";
import { useTRPC } from "~/trpc/react";

/** The summary strip and the newest page refresh on their own. */
const pollMs = 10_000;
const pageSize = 50;

const windowMs = { "15m": 15 * 60_000, "1h": 3600_000, "6h": 6 * 3600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 } as const;
const windowLabels: Record<keyof typeof windowMs, string> = { "15m": "15 minutes", "1h": "1 hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days" };
type Span = keyof typeof windowMs;

export interface AuthLogFilters {
  routerId: number | null;
  result: "accept" | "reject" | "drop" | null;
  reason: string | null;
  usernamePrefix: string;
  window: Span;
}

function toSearch(f: AuthLogFilters): string {
  const p = new URLSearchParams();
  if (f.routerId !== null) p.set("router", String(f.routerId));
  if (f.result) p.set("result", f.result);
  if (f.reason) p.set("reason", f.reason);
  if (f.usernamePrefix) p.set("user", f.usernamePrefix);
  if (f.window !== "1h") p.set("window", f.window);
  const s = p.toString();
  return s ? `?${s}` : "";
}

function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${describeAuthReason(reason).text} ${n}`);
  return parts.join(" · ");
}

export function AuthLogView({ initial }: { initial: AuthLogFilters }) {
  const trpc = useTRPC();
  const [draft, setDraft] = useState<AuthLogFilters>(initial);
  // The applied filters and the window's start, fixed when applied so paging stays consistent.
  const [applied, setApplied] = useState(() => ({ filters: initial, since: new Date(Date.now() - windowMs[initial.window]).toISOString() }));

  const apply = (f: AuthLogFilters) => {
    setApplied({ filters: f, since: new Date(Date.now() - windowMs[f.window]).toISOString() });
    window.history.replaceState(null, "", `/noc/auth-log${toSearch(f)}`);
  };

  const summary = useQuery(trpc.authLog.summary.queryOptions(undefined, { refetchInterval: pollMs }));
  const routers = useQuery(trpc.authLog.routers.queryOptions(undefined, { staleTime: 60_000 })).data ?? [];

  const input = useMemo(() => {
    const f = applied.filters;
    return {
      since: applied.since,
      limit: pageSize,
      ...(f.routerId !== null ? { routerId: f.routerId } : {}),
      ...(f.result ? { result: f.result } : {}),
      ...(f.reason ? { reason: f.reason } : {}),
      ...(f.usernamePrefix ? { usernamePrefix: f.usernamePrefix } : {}),
    };
  }, [applied]);
  const list = useInfiniteQuery(
    trpc.authLog.list.infiniteQueryOptions(input, {
      getNextPageParam: (last) => last.nextCursor,
      // Only while the newest page alone is shown: refetching many pages every 10 s is not worth it.
      refetchInterval: (q) => ((q.state.data?.pages.length ?? 1) <= 1 ? pollMs : false),
      placeholderData: (prev) => prev,
    }),
  );
  const rows = list.data?.pages.flatMap((p) => p.rows) ?? [];
  const reasons = reasonOptions().filter((o) => !draft.result || o.result === draft.result);

  return (
    <main className="page wide" data-testid="auth-log-page">
      <div className="page-head">
        <h1>Auth log</h1>
        <span className="muted">every router&apos;s login attempts, newest first · times in PKT</span>
        <Link href="/noc">NOC wall</Link>
      </div>

      <section className="card" data-testid="auth-summary">
        <h2>Last 15 minutes</h2>
        {summary.data ? (
          <>
            <div className="actions-row wrap">
              <span>
                <span className="badge accept">accept</span> <strong data-testid="summary-accepts">{summary.data.accepts}</strong>
              </span>
              <span>
                <span className="badge reject">reject</span> <strong data-testid="summary-rejects">{summary.data.rejects}</strong>{" "}
                <span className="muted">{countsText(summary.data.rejectsByReason)}</span>
              </span>
              <span>
                <span className="badge drop">drop</span> <strong data-testid="summary-drops">{summary.data.drops}</strong>{" "}
                <span className="muted">{countsText(summary.data.dropsByReason)}</span>
              </span>
              {summary.data.truncated && <span className="warn">partial counts (too many groups)</span>}
            </div>
            {summary.data.routers.length > 0 && (
              <table className="data compact" data-testid="summary-routers">
                <thead>
                  <tr>
                    <th>Router</th>
                    <th className="num">Accepts</th>
                    <th className="num">Rejects</th>
                    <th>Rejects by reason</th>
                    <th className="num">Drops</th>
                    <th>Drops by reason</th>
                  </tr>
                </thead>
                <tbody>
                  {summary.data.routers.map((r) => (
                    <tr key={`${r.routerId ?? ""}|${r.nasIp}`} data-testid="summary-router" data-wrong-secret={r.wrongSecret}>
                      <td>
                        {r.routerName ?? "unknown router"} <span className="muted mono">{r.nasIp}</span>
                        {r.wrongSecret && (
                          <div className="error" data-testid="wrong-secret">
                            Every request dropped for a bad authenticator: the router&apos;s RADIUS shared secret does not match ours.
                          </div>
                        )}
                      </td>
                      <td className="num">{r.accepts}</td>
                      <td className="num">{r.rejects}</td>
                      <td className="auth-why muted">{countsText(r.rejectsByReason)}</td>
                      <td className="num">{r.drops}</td>
                      <td className="auth-why muted">{countsText(r.dropsByReason)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        ) : (
          <p className="muted">{summary.isError ? `Could not load: ${summary.error.message}` : "Loading…"}</p>
        )}
      </section>

      <section className="card">
        <form
          className="form-grid"
          data-testid="auth-log-filters"
          onSubmit={(e) => {
            e.preventDefault();
            apply(draft);
          }}
        >
          <label className="field">
            Router
            <select
              data-testid="filter-router"
              value={draft.routerId ?? ""}
              onChange={(e) => setDraft({ ...draft, routerId: e.target.value ? Number(e.target.value) : null })}
            >
              <option value="">All routers</option>
              {routers.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.ipAddress})
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            Result
            <select
              data-testid="filter-result"
              value={draft.result ?? ""}
              onChange={(e) => {
                const result = (e.target.value || null) as AuthLogFilters["result"];
                const keep = draft.reason && reasonOptions().some((o) => o.reason === draft.reason && (!result || o.result === result));
                setDraft({ ...draft, result, reason: keep ? draft.reason : null });
              }}
            >
              <option value="">Any</option>
              <option value="accept">accept</option>
              <option value="reject">reject</option>
              <option value="drop">drop</option>
            </select>
          </label>
          <label className="field">
            Reason
            <select data-testid="filter-reason" value={draft.reason ?? ""} onChange={(e) => setDraft({ ...draft, reason: e.target.value || null })}>
              <option value="">Any</option>
              {reasons.map((o) => (
                <option key={o.reason} value={o.reason}>
                  {o.text}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            User name starts with
            <input
              data-testid="filter-user"
              value={draft.usernamePrefix}
              maxLength={64}
              onChange={(e) => setDraft({ ...draft, usernamePrefix: e.target.value })}
              placeholder="e.g. ahmed"
            />
          </label>
          <label className="field">
            Since
            <select data-testid="filter-window" value={draft.window} onChange={(e) => setDraft({ ...draft, window: e.target.value as Span })}>
              {(Object.keys(windowMs) as Span[]).map((w) => (
                <option key={w} value={w}>
                  last {windowLabels[w]}
                </option>
              ))}
            </select>
          </label>
          <div className="field end">
            <button type="submit" className="primary" data-testid="filter-apply">
              Show
            </button>
          </div>
        </form>
      </section>

      <section className="card">
        {list.isError && <p className="error">Could not load the auth log: {list.error.message}</p>}
        <div className="table-scroll">
          <table className="data compact" data-testid="auth-log-table">
            <thead>
              <tr>
                <th>Time (PKT)</th>
                <th>Router</th>
                <th>User name</th>
                <th>MAC</th>
                <th>Method</th>
                <th>Result</th>
                <th>Reason</th>
                <th>Reply</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={`${a.time}|${a.id}`} data-testid="auth-log-row" data-result={a.result} data-reason={a.reason} data-username={a.username}>
                  <td>{formatPkt(a.time)}</td>
                  <td>
                    {a.routerName ?? "unknown router"} <span className="muted mono">{a.nasIp}</span>
                  </td>
                  <td className="mono">{a.username || "—"}</td>
                  <td className="mono">{a.callingStationId ?? "—"}</td>
                  <td>{a.method}</td>
                  <td>
                    <span className={`badge ${a.result}`}>{a.result}</span>
                  </td>
                  <td className="auth-why">{describeAuthReason(a.reason).text}</td>
                  <td className="mono muted">{a.reply ?? ""}</td>
                </tr>
              ))}
              {list.data && rows.length === 0 && (
                <tr>
                  <td colSpan={8} className="muted">
                    No attempts match in the last {windowLabels[applied.filters.window]}.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div className="actions-row">
          {list.hasNextPage && (
            <button type="button" data-testid="auth-log-older" disabled={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
              {list.isFetchingNextPage ? "Loading…" : "Older"}
            </button>
          )}
          <span className="muted">{rows.length} shown</span>
          <button type="button" className="link" data-testid="auth-log-refresh" onClick={() => apply(applied.filters)}>
            Back to newest
          </button>
        </div>
      </section>
    </main>
  );
}
