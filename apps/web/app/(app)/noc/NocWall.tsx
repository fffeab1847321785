"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { Socket } from "socket.io-client";
import { LiveIndicator } from "~/components/LiveIndicator";
import { Sparkline } from "~/components/Sparkline";
import { barPercent, formatClock, mbps } from "~/lib/format";
import { nocStateSchema, type NocState } from "~/lib/live-protocol";
import { useLiveSocket, useOnConnect } from "~/live/useLiveSocket";
import { useTRPC } from "~/trpc/react";

/** Samples kept per router for the sparkline (one push a second: the last two minutes). */
export const sparklineSamplesMax = 120;
/** Rows of the newest-sessions list (the collector sends at most this many too). */
const newestRowsMax = 20;

type History = Record<number, number[]>;

// Rebuilt from the current router list, so a removed router's history is dropped.
function pushSample(history: History, state: NocState): History {
  const next: History = {};
  for (const r of state.routers) {
    const prev = history[r.id] ?? [];
    const total = Number(BigInt(r.inputBps) + BigInt(r.outputBps));
    const samples = prev.length >= sparklineSamplesMax ? prev.slice(prev.length - sparklineSamplesMax + 1) : prev.slice();
    samples.push(total);
    next[r.id] = samples;
  }
  return next;
}

/** Open escalations, kept live: any enforcement answer in the noc room, or an acknowledgement elsewhere, may change the count. */
function EscalationsLink({ initial, socket }: { initial: number; socket: Socket | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const count = useQuery(trpc.escalations.count.queryOptions(undefined, { initialData: { open: initial }, refetchInterval: 30_000 }));
  useEffect(() => {
    if (!socket) return;
    const onResult = () => void queryClient.invalidateQueries({ queryKey: trpc.escalations.count.queryKey() });
    socket.on("enforcement:result", onResult);
    socket.on("escalations:changed", onResult);
    return () => {
      socket.off("enforcement:result", onResult);
      socket.off("escalations:changed", onResult);
    };
  }, [socket, queryClient, trpc]);
  const open = count.data?.open ?? initial;
  return (
    <Link href="/noc/escalations" data-testid="escalations-link" data-count={open}>
      Escalations <span className={`badge ${open > 0 ? "failed" : ""}`} data-testid="escalations-count">{open}</span>
    </Link>
  );
}

export function NocWall({
  initial,
  escalations = null,
  authLog = false,
}: {
  initial: NocState;
  escalations?: number | null;
  /** Link to /noc/auth-log (roles that may read it). */
  authLog?: boolean;
}) {
  const { socket, status } = useLiveSocket();
  const [state, setState] = useState<NocState>(initial);
  const [history, setHistory] = useState<History>(() => pushSample({}, initial));

  const subscribe = useCallback((s: Socket) => {
    s.emit("subscribe:noc");
  }, []);
  useOnConnect(socket, subscribe);

  useEffect(() => {
    if (!socket) return;
    const onState = (payload: unknown) => {
      const parsed = nocStateSchema.safeParse(payload);
      if (!parsed.success) {
        // Render nothing malformed; the previous state stays on the wall.
        console.warn("noc:state dropped (malformed)", parsed.error.issues.slice(0, 3));
        return;
      }
      setState(parsed.data);
      setHistory((h) => pushSample(h, parsed.data));
    };
    socket.on("noc:state", onState);
    return () => {
      socket.off("noc:state", onState);
    };
  }, [socket]);

  const maxBps = useMemo(() => {
    let max = 0n;
    for (const r of state.routers) {
      const v = BigInt(r.inputBps) > BigInt(r.outputBps) ? BigInt(r.inputBps) : BigInt(r.outputBps);
      if (v > max) max = v;
    }
    return max;
  }, [state.routers]);

  const totalIn = state.routers.reduce((a, r) => a + BigInt(r.inputBps), 0n);
  const totalOut = state.routers.reduce((a, r) => a + BigInt(r.outputBps), 0n);

  return (
    <main className="wall" data-testid="noc-wall">
      <div className="wall-head">
        <h1>NOC wall</h1>
        <LiveIndicator status={status} />
        <span className="muted" data-testid="noc-updated">
          updated {formatClock(state.at)}
        </span>
        {escalations !== null && <EscalationsLink initial={escalations} socket={socket} />}
        {authLog && (
          <Link href="/noc/auth-log" data-testid="auth-log-link">
            Auth log
          </Link>
        )}
      </div>

      <section className="wall-stats">
        <div className="stat big">
          <div className="stat-label">Online now</div>
          <div className="stat-value" data-testid="online-count">
            {state.online.toLocaleString("en-US")}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Download ↓</div>
          <div className="stat-value">
            {mbps(totalOut)} <small>Mbps</small>
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Upload ↑</div>
          <div className="stat-value">
            {mbps(totalIn)} <small>Mbps</small>
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Auth accepts</div>
          <div className="stat-value ok" data-testid="auth-accepts">
            {state.counters.authAccepts.toLocaleString("en-US")}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Auth rejects</div>
          <div className={`stat-value ${state.counters.authRejects > 0 ? "bad" : ""}`} data-testid="auth-rejects">
            {state.counters.authRejects.toLocaleString("en-US")}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Dropped packets</div>
          <div className={`stat-value ${state.counters.dropped > 0 ? "warn" : ""}`} data-testid="dropped">
            {state.counters.dropped.toLocaleString("en-US")}
          </div>
        </div>
      </section>

      <div className="wall-grid">
        <section className="panel">
          <h2>Routers</h2>
          <table className="routers">
            <thead>
              <tr>
                <th>Router</th>
                <th className="num">Online</th>
                <th>Down Mbps</th>
                <th>Up Mbps</th>
                <th>Trend</th>
                <th>Last seen</th>
                <th>API</th>
              </tr>
            </thead>
            <tbody>
              {state.routers.map((r) => (
                <tr key={r.id} data-testid="router-row" data-router={r.name}>
                  <td className="router-name">{r.name}</td>
                  <td className="num" data-testid="router-online">
                    {r.online}
                  </td>
                  <td>
                    <div className="bar-cell">
                      <span className="num" data-testid="router-out">
                        {mbps(r.outputBps)}
                      </span>
                      <span className="bar">
                        <span className="bar-fill down" style={{ width: `${barPercent(r.outputBps, maxBps)}%` }} />
                      </span>
                    </div>
                  </td>
                  <td>
                    <div className="bar-cell">
                      <span className="num" data-testid="router-in">
                        {mbps(r.inputBps)}
                      </span>
                      <span className="bar">
                        <span className="bar-fill up" style={{ width: `${barPercent(r.inputBps, maxBps)}%` }} />
                      </span>
                    </div>
                  </td>
                  <td>
                    <Sparkline samples={history[r.id] ?? []} />
                  </td>
                  <td className="muted">{r.lastSeenAt ? formatClock(r.lastSeenAt) : "—"}</td>
                  <td data-testid="router-api" data-api={r.api ?? ""} title={r.apiError ?? (r.reconciledAt ? `reconciled ${formatClock(r.reconciledAt)}` : undefined)}>
                    {r.api === "ok" ? "ok" : r.api === "failed" ? <span className="badge failed">login failed</span> : "—"}
                    {r.repairs ? <span className="muted"> · {r.repairs} repaired</span> : null}
                  </td>
                </tr>
              ))}
              {state.routers.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted">
                    No routers configured.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>

        <section className="panel">
          <h2>Newest sessions</h2>
          <table className="newest">
            <thead>
              <tr>
                <th>Time</th>
                <th>Account</th>
                <th>Name</th>
                <th>Router</th>
                <th>IP</th>
              </tr>
            </thead>
            <tbody>
              {state.newest.slice(0, newestRowsMax).map((s) => (
                <tr key={s.sessionId} data-testid="newest-row" data-session-id={s.sessionId} data-account={s.accountNo ?? ""}>
                  <td className="num">{formatClock(s.startedAt)}</td>
                  <td>{s.subscriberId && s.accountNo ? <Link href={`/subscribers/${s.subscriberId}`} prefetch={false}>{s.accountNo}</Link> : s.username}</td>
                  <td>{s.name ?? <span className="muted">unknown user</span>}</td>
                  <td>{s.routerName}</td>
                  <td className="mono">{s.framedIp ?? "—"}</td>
                </tr>
              ))}
              {state.newest.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No sessions online.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>
      </div>
    </main>
  );
}
