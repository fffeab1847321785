"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import type { Socket } from "socket.io-client";
import { LiveIndicator } from "~/components/LiveIndicator";
import { describeErrorCause, formatBps, formatBytes, formatDateTime, formatDuration } from "~/lib/format";
import { enforcementResultSchema, subscriberSessionSchema, type LiveSession } from "~/lib/live-protocol";
import { useLiveSocket, useOnConnect } from "~/live/useLiveSocket";
import type { SubscriberDetail } from "~/server/dto";
import { useTRPC } from "~/trpc/react";

/** Fallback polling while the socket has not reported the action's outcome. */
const actionPollMs = 500;

type ActionView =
  | { phase: "sending"; actionId: string | null }
  | {
      phase: "done";
      actionId: string;
      kind: string;
      status: "acked" | "nak" | "timeout" | "failed";
      totalLatencyMs: number | null;
      errorCause: number | null;
      message: string | null;
      path: string | null;
      escalated: boolean;
    }
  | { phase: "error"; message: string };

/** Actions after which the router has no session for this subscriber. */
const sessionEnding = new Set(["disconnect", "kick", "suspend", "terminate", "restore", "walled_garden_off"]);

const actionButtons: { kind: Exclude<ActionKind, "change_plan">; label: string; title: string; danger?: boolean; confirm?: string }[] = [
  { kind: "kick", label: "Kick session", title: "Disconnect the session; the subscriber may dial in again" },
  { kind: "suspend", label: "Suspend", title: "Suspend the account and end its session", danger: true },
  { kind: "restore", label: "Restore", title: "Reactivate a suspended account" },
  { kind: "throttle", label: "Throttle", title: "Apply the plan's fair-usage rate now" },
  { kind: "walled_garden_on", label: "Walled garden on", title: "Put the session in the walled-garden address list" },
  { kind: "walled_garden_off", label: "Walled garden off", title: "Take the session out of the walled garden" },
  { kind: "terminate", label: "Terminate", title: "End the account for good", danger: true, confirm: "Terminate this account? This cannot be undone from here." },
];
type ActionKind = "kick" | "suspend" | "restore" | "change_plan" | "throttle" | "walled_garden_on" | "walled_garden_off" | "terminate";

function useNow(periodMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export function SubscriberView({
  initial,
  canDisconnect,
  billing = null,
  authLog = null,
}: {
  initial: SubscriberDetail;
  canDisconnect: boolean;
  billing?: ReactNode;
  /** The login attempts panel (AuthLogPanel), for roles that may read the auth log. */
  authLog?: ReactNode;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const detail = useQuery(trpc.subscriber.get.queryOptions({ id: initial.id }, { initialData: initial })).data ?? initial;
  // Stable across renders, so the socket listeners below are bound once per socket.
  const detailKey = useMemo(() => trpc.subscriber.get.queryKey({ id: initial.id }), [trpc, initial.id]);
  const { socket, status } = useLiveSocket();
  // undefined: no live push yet, show what the page loaded.
  const [liveSession, setLiveSession] = useState<LiveSession | null | undefined>(undefined);
  const [action, setAction] = useState<ActionView | null>(null);
  const session = liveSession === undefined ? detail.session : liveSession;

  const subscribe = useCallback((s: Socket) => s.emit("subscribe:subscriber", { subscriberId: initial.id }), [initial.id]);
  useOnConnect(socket, subscribe);

  const finish = useCallback(
    (r: Extract<ActionView, { phase: "done" }>) => {
      setAction((prev) => (prev?.phase === "sending" && (prev.actionId === null || prev.actionId === r.actionId) ? r : prev));
      if (r.status === "acked" && sessionEnding.has(r.kind)) setLiveSession(null);
      void queryClient.invalidateQueries({ queryKey: detailKey });
    },
    [queryClient, detailKey],
  );

  useEffect(() => {
    if (!socket) return;
    const onSession = (payload: unknown) => {
      const parsed = subscriberSessionSchema.safeParse(payload);
      if (parsed.success && parsed.data.subscriberId === initial.id) setLiveSession(parsed.data.session);
    };
    const onResult = (payload: unknown) => {
      const parsed = enforcementResultSchema.safeParse(payload);
      if (!parsed.success || parsed.data.subscriberId !== initial.id) return;
      finish({ phase: "done", ...parsed.data });
    };
    socket.on("subscriber:session", onSession);
    socket.on("enforcement:result", onResult);
    return () => {
      socket.off("subscriber:session", onSession);
      socket.off("enforcement:result", onResult);
    };
  }, [socket, initial.id, finish]);

  // Leave the room only when leaving the page (or the subscriber changes).
  useEffect(() => {
    if (!socket) return;
    return () => {
      if (socket.connected) socket.emit("unsubscribe:subscriber", { subscriberId: initial.id });
    };
  }, [socket, initial.id]);

  const pendingId = action?.phase === "sending" ? action.actionId : null;
  const poll = useQuery(
    trpc.enforcement.status.queryOptions(
      { actionId: pendingId ?? "0" },
      { enabled: pendingId !== null, refetchInterval: actionPollMs, staleTime: 0, gcTime: 0 },
    ),
  );
  useEffect(() => {
    const a = poll.data;
    if (!a || pendingId === null || a.id !== pendingId) return;
    if (a.status !== "pending" && a.status !== "sending") {
      finish({
        phase: "done",
        actionId: a.id,
        kind: a.kind,
        status: a.status,
        totalLatencyMs: a.totalLatencyMs,
        errorCause: a.errorCause,
        message: a.lastError,
        path: a.path,
        escalated: a.escalated,
      });
    }
  }, [poll.data, pendingId, finish]);

  const disconnect = useMutation(
    trpc.subscriber.disconnect.mutationOptions({
      onMutate: () => setAction({ phase: "sending", actionId: null }),
      onSuccess: ({ actionId }) => setAction((prev) => (prev?.phase === "sending" ? { phase: "sending", actionId } : prev)),
      onError: (err) => setAction({ phase: "error", message: err.message }),
    }),
  );

  const act = useMutation(
    trpc.subscriber.act.mutationOptions({
      onMutate: () => setAction({ phase: "sending", actionId: null }),
      onSuccess: ({ actionId }) => {
        setAction((prev) => (prev?.phase === "sending" ? { phase: "sending", actionId } : prev));
        // The status or plan changed in the same transaction: show it now.
        void queryClient.invalidateQueries({ queryKey: detailKey });
      },
      onError: (err) => setAction({ phase: "error", message: err.message }),
    }),
  );
  const plans = useQuery(trpc.subscriber.plans.queryOptions(undefined, { enabled: canDisconnect, staleTime: 60_000 })).data ?? [];
  const [planId, setPlanId] = useState<number | null>(null);
  const terminated = detail.status === "terminated";

  const busy = action?.phase === "sending";

  return (
    <main className="page subscriber">
      <div className="page-head">
        <h1>
          {detail.name} <span className="muted">{detail.accountNo}</span>
        </h1>
        <span className={`badge ${detail.status}`} data-testid="subscriber-status">
          {detail.status}
        </span>
        <LiveIndicator status={status} />
      </div>

      <div className="grid-2">
        <section className="card" data-testid="profile">
          <h2>Profile</h2>
          <dl className="kv">
            <dt>Account</dt>
            <dd data-testid="profile-account">{detail.accountNo}</dd>
            <dt>Name</dt>
            <dd>{detail.name}</dd>
            <dt>Phone</dt>
            <dd className="mono">{detail.phone}</dd>
            <dt>CNIC</dt>
            <dd className="mono">{detail.cnic}</dd>
            <dt>Address</dt>
            <dd>
              {detail.address}, {detail.city}
            </dd>
            <dt>Plan</dt>
            <dd>
              {detail.plan.name} — {detail.plan.rate} — <strong>{detail.plan.price}</strong> / {detail.plan.billingCycle}
            </dd>
            <dt>Dealer</dt>
            <dd>{detail.dealer ? `${detail.dealer.name} (${detail.dealer.code})` : "direct"}</dd>
            <dt>PPPoE username</dt>
            <dd className="mono">{detail.pppoeUsername}</dd>
            {detail.staticIp && (
              <>
                <dt>Static IP</dt>
                <dd className="mono">{detail.staticIp}</dd>
              </>
            )}
          </dl>
        </section>

        <SessionCard session={session} />
      </div>

      <section className="card actions-card">
        <div className="actions-row">
          <button
            type="button"
            className="danger"
            data-testid="disconnect-button"
            disabled={!canDisconnect || !session || busy}
            title={!canDisconnect ? "Only support and admin operators can disconnect" : !session ? "No active session" : "Send a Disconnect-Request to the router"}
            onClick={() => disconnect.mutate({ id: detail.id })}
          >
            Disconnect
          </button>
          {!canDisconnect && <span className="muted">Actions need a support or admin login.</span>}
          <ActionResult action={action} />
        </div>
        {canDisconnect && (
          <div className="actions-row" data-testid="action-buttons">
            {actionButtons.map((b) => (
              <button
                key={b.kind}
                type="button"
                className={b.danger ? "danger" : undefined}
                data-testid={`action-${b.kind}`}
                disabled={busy || (terminated && b.kind !== "kick")}
                title={b.title}
                onClick={() => {
                  if (b.confirm && !window.confirm(b.confirm)) return;
                  act.mutate({ id: detail.id, kind: b.kind });
                }}
              >
                {b.label}
              </button>
            ))}
            <label className="plan-picker">
              <select
                data-testid="plan-picker"
                value={planId ?? ""}
                disabled={busy || terminated}
                onChange={(e) => setPlanId(e.target.value ? Number(e.target.value) : null)}
              >
                <option value="">Change plan…</option>
                {plans
                  .filter((p) => p.id !== detail.plan.id)
                  .map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name} ({p.rate})
                    </option>
                  ))}
              </select>
            </label>
            <button
              type="button"
              data-testid="action-change_plan"
              disabled={busy || terminated || planId === null}
              title="Move to the chosen plan; the router gets the new rate now"
              onClick={() => planId !== null && act.mutate({ id: detail.id, kind: "change_plan", planId })}
            >
              Apply plan
            </button>
          </div>
        )}
      </section>

      {authLog}

      <div className="grid-2">
        <section className="card">
          <h2>Recent actions</h2>
          <table className="data compact" data-testid="recent-actions">
            <thead>
              <tr>
                <th>Requested</th>
                <th>Action</th>
                <th>By</th>
                <th>Outcome</th>
                <th className="num">Latency</th>
              </tr>
            </thead>
            <tbody>
              {detail.actions.map((a) => (
                <tr key={a.id} data-testid="action-row" data-status={a.status}>
                  <td>{formatDateTime(a.requestedAt)}</td>
                  <td>{a.kind}</td>
                  <td>{a.requestedBy ?? "system"}</td>
                  <td>
                    <span className={`badge ${a.status}`}>{a.status}</span>
                    {a.path && <span className="muted"> via {a.path}</span>}
                    {a.errorCause !== null && <span className="muted"> {describeErrorCause(a.errorCause)}</span>}
                    {a.escalated && <span className="badge failed"> NOC</span>}
                  </td>
                  <td className="num">{a.totalLatencyMs !== null ? `${a.totalLatencyMs} ms` : "—"}</td>
                </tr>
              ))}
              {detail.actions.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No actions yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>

        <section className="card">
          <h2>Last sessions</h2>
          <table className="data compact" data-testid="session-history">
            <thead>
              <tr>
                <th>Started</th>
                <th>Router</th>
                <th>IP</th>
                <th className="num">Duration</th>
                <th className="num">Down / Up</th>
                <th>End</th>
              </tr>
            </thead>
            <tbody>
              {detail.sessions.map((s) => {
                // The open session's row follows the live card rather than the page load.
                const live = session && session.id === s.id ? session : null;
                return (
                  <tr key={s.id}>
                    <td>{formatDateTime(s.startedAt)}</td>
                    <td>{s.routerName}</td>
                    <td className="mono">{s.framedIp ?? "—"}</td>
                    <td className="num">{live ? "open" : formatDuration(s.sessionTimeS)}</td>
                    <td className="num">
                      {formatBytes(live?.outputOctets ?? s.outputOctets)} / {formatBytes(live?.inputOctets ?? s.inputOctets)}
                    </td>
                    <td>{s.status === "active" ? <span className="badge online">online</span> : (s.terminateCause ?? s.status)}</td>
                  </tr>
                );
              })}
              {detail.sessions.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    Never connected.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>
      </div>

      {billing}
    </main>
  );
}

function SessionCard({ session }: { session: LiveSession | null }) {
  const now = useNow(1000);
  if (!session) {
    return (
      <section className="card session offline" data-testid="session-card" data-online="false">
        <h2>
          Session <span className="badge offline">offline</span>
        </h2>
        <p className="muted">No active session on any router.</p>
      </section>
    );
  }
  const uptimeS = (now - new Date(session.startedAt).getTime()) / 1000;
  return (
    <section className="card session online" data-testid="session-card" data-online="true" data-last-update={session.lastUpdateAt}>
      <h2>
        Session <span className="badge online">online</span>
      </h2>
      <dl className="kv">
        <dt>Router</dt>
        <dd>{session.routerName}</dd>
        <dt>IP</dt>
        <dd className="mono" data-testid="session-ip">
          {session.framedIp ?? "—"}
        </dd>
        <dt>MAC</dt>
        <dd className="mono">{session.callingStationId ?? "—"}</dd>
        <dt>Started</dt>
        <dd>{formatDateTime(session.startedAt)}</dd>
        <dt>Uptime</dt>
        <dd>{formatDuration(uptimeS)}</dd>
        <dt>Downloaded</dt>
        <dd data-testid="session-bytes-out">{formatBytes(session.outputOctets)}</dd>
        <dt>Uploaded</dt>
        <dd data-testid="session-bytes-in">{formatBytes(session.inputOctets)}</dd>
        <dt>Rate now</dt>
        <dd>
          ↓ {formatBps(session.outputBps)} · ↑ {formatBps(session.inputBps)}
        </dd>
        <dt>Rate limit</dt>
        <dd className="mono">{session.rateLimit ?? "—"}</dd>
        <dt>Session id</dt>
        <dd className="mono">{session.acctSessionId}</dd>
      </dl>
    </section>
  );
}

function ActionResult({ action }: { action: ActionView | null }) {
  if (!action) return null;
  if (action.phase === "sending") {
    return (
      <span className="action-result pending" data-testid="action-result" data-status="sending">
        Sending to router…
      </span>
    );
  }
  if (action.phase === "error") {
    return (
      <span className="action-result bad" data-testid="action-result" data-status="error">
        Could not queue the action: {action.message}
      </span>
    );
  }
  // The path and escalation sit next to the result line, so the line itself stays
  // "Router confirmed in N ms" whichever path answered.
  const text =
    action.status === "acked"
      ? action.path
        ? `Router confirmed in ${action.totalLatencyMs ?? "?"} ms`
        : (action.message ?? "Done")
      : action.status === "nak"
        ? action.errorCause === 503
          ? "Session already gone on the router"
          : `Router refused: ${describeErrorCause(action.errorCause)}`
        : action.status === "timeout"
          ? "No answer from the router (timed out after retries)"
          : `Failed: ${action.message ?? "unknown error"}`;
  return (
    <>
      <span
        className={`action-result ${action.status === "acked" || action.errorCause === 503 ? "ok" : "bad"}`}
        data-testid="action-result"
        data-status={action.status}
        data-path={action.path ?? ""}
      >
        {text}
      </span>
      {action.path && (
        <span className="muted" data-testid="action-path">
          via {action.path}
        </span>
      )}
      {action.escalated && (
        <span className="badge failed" data-testid="action-escalated">
          escalated to NOC
        </span>
      )}
    </>
  );
}
