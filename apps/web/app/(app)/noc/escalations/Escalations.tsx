"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";
import type { Socket } from "socket.io-client";
import { LiveIndicator } from "~/components/LiveIndicator";
import { describeErrorCause, formatDateTime } from "~/lib/format";
import { enforcementResultSchema } from "~/lib/live-protocol";
import { useLiveSocket, useOnConnect } from "~/live/useLiveSocket";
import type { Escalation } from "~/server/routers/escalations";
import { useTRPC } from "~/trpc/react";

/** Bursts of results (a mass suspend) refresh the list once. */
const refreshDebounceMs = 500;

export function Escalations({ initial }: { initial: Escalation[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [includeAcked, setIncludeAcked] = useState(false);
  const input = { includeAcked, limit: 100 };
  const list = useQuery(
    trpc.escalations.list.queryOptions(input, { refetchInterval: 30_000, ...(includeAcked ? {} : { initialData: initial }) }),
  );
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const refresh = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      void queryClient.invalidateQueries({ queryKey: trpc.escalations.list.queryKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.escalations.count.queryKey() });
    }, refreshDebounceMs);
  }, [queryClient, trpc]);
  useEffect(() => () => clearTimeout(timer.current), []);
  const [message, setMessage] = useState<string | null>(null);
  const retry = useMutation(
    trpc.escalations.retry.mutationOptions({
      onSuccess: (r) => {
        setMessage(`Action #${r.actionId} re-queued`);
        refresh();
      },
      onError: (e) => setMessage(e.message),
    }),
  );
  const acknowledge = useMutation(
    trpc.escalations.acknowledge.mutationOptions({
      onSuccess: (r) => {
        setMessage(`Action #${r.actionId} acknowledged`);
        refresh();
      },
      onError: (e) => setMessage(e.message),
    }),
  );

  // Every enforcement answer reaches the noc room; an escalation (or a retried row's
  // answer) changes this list, and so does an acknowledgement on another screen.
  const { socket, status } = useLiveSocket();
  const subscribe = useCallback((s: Socket) => void s.emit("subscribe:noc"), []);
  useOnConnect(socket, subscribe);
  useEffect(() => {
    if (!socket) return;
    const onResult = (payload: unknown) => {
      if (enforcementResultSchema.safeParse(payload).success) refresh();
    };
    // Another agent's acknowledgement (NOTIFY escalation_changed, relayed by the collector).
    const onChanged = () => refresh();
    socket.on("enforcement:result", onResult);
    socket.on("escalations:changed", onChanged);
    return () => {
      socket.off("enforcement:result", onResult);
      socket.off("escalations:changed", onChanged);
    };
  }, [socket, refresh]);

  const rows = list.data ?? [];
  const busy = retry.isPending || acknowledge.isPending;
  return (
    <main className="page" data-testid="escalations">
      <div className="wall-head">
        <h1>Escalations</h1>
        <LiveIndicator status={status} />
        <Link href="/noc">NOC wall</Link>
      </div>
      <section className="card">
        <label className="muted">
          <input type="checkbox" data-testid="include-acked" checked={includeAcked} onChange={(e) => setIncludeAcked(e.target.checked)} /> show acknowledged
        </label>
        {message && (
          <p className="muted" data-testid="escalation-message">
            {message}
          </p>
        )}
        <table className="data">
          <thead>
            <tr>
              <th>#</th>
              <th>When</th>
              <th>Subscriber</th>
              <th>Action</th>
              <th>Status</th>
              <th>Path</th>
              <th className="num">Attempts</th>
              <th>Router</th>
              <th>Last error / cause</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid="escalation-row" data-action-id={r.id} data-status={r.status} data-acked={r.ackedAt ? "true" : "false"}>
                <td>{r.id}</td>
                <td>{formatDateTime(r.completedAt ?? r.requestedAt)}</td>
                <td>
                  <Link href={`/subscribers/${r.subscriberId}`} prefetch={false}>
                    {r.accountNo}
                  </Link>{" "}
                  <span className="muted">{r.subscriberName}</span>
                </td>
                <td>
                  {r.kind}
                  {r.reason ? <div className="muted">{r.reason}</div> : null}
                </td>
                <td>
                  <span className={`badge ${r.status}`}>{r.status}</span>
                </td>
                <td>{r.path ?? "—"}</td>
                <td className="num">
                  {r.attempts}/{r.maxAttempts}
                </td>
                <td>{r.routerName ?? "—"}</td>
                <td data-testid="escalation-error" style={{ whiteSpace: "normal", maxWidth: 420 }}>
                  {r.lastError ?? "—"}
                  {r.errorCode ? <span className="muted"> · {r.errorCode}</span> : null}
                  {r.errorCause !== null ? <div className="muted">{describeErrorCause(r.errorCause)}</div> : null}
                </td>
                <td>
                  {r.ackedAt ? (
                    <span className="muted" data-testid="escalation-acked">
                      acknowledged by {r.ackedBy ?? "?"} {formatDateTime(r.ackedAt)}
                    </span>
                  ) : (
                    <>
                      <button data-testid="escalation-retry" disabled={busy} onClick={() => retry.mutate({ actionId: r.id })}>
                        Retry
                      </button>{" "}
                      <button data-testid="escalation-ack" disabled={busy} onClick={() => acknowledge.mutate({ actionId: r.id })}>
                        Acknowledge
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={10} className="muted" data-testid="escalations-empty">
                  No open escalations.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
    </main>
  );
}
