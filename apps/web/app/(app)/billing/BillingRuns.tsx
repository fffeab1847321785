"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useState } from "react";
import type { Socket } from "socket.io-client";
import { z } from "zod";
import { LiveIndicator } from "~/components/LiveIndicator";
import { useLiveSocket, useOnConnect } from "~/live/useLiveSocket";
import { useTRPC } from "~/trpc/react";

// `billing:progress` from the collector (docs/architecture.md, live protocol).
const progressSchema = z.object({
  runId: z.string(),
  kind: z.enum(["billing", "dunning"]),
  done: z.number(),
  total: z.number(),
  status: z.enum(["running", "completed", "failed"]),
});
type Progress = z.infer<typeof progressSchema>;

export function BillingRuns() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const runs = useQuery(trpc.billing.runs.queryOptions(undefined, { refetchInterval: 15_000 }));
  const refresh = useCallback(() => void queryClient.invalidateQueries({ queryKey: trpc.billing.runs.queryKey() }), [queryClient, trpc]);
  const request = useMutation(trpc.billing.requestRun.mutationOptions({ onSuccess: refresh }));
  const { socket, status } = useLiveSocket();
  const [progress, setProgress] = useState<Partial<Record<Progress["kind"], Progress>>>({});

  // The noc room carries billing progress to staff sockets.
  const subscribe = useCallback((s: Socket) => void s.emit("subscribe:noc"), []);
  useOnConnect(socket, subscribe);
  useEffect(() => {
    if (!socket) return;
    const onProgress = (payload: unknown) => {
      const parsed = progressSchema.safeParse(payload);
      if (!parsed.success) return;
      setProgress((p) => ({ ...p, [parsed.data.kind]: parsed.data }));
      if (parsed.data.status !== "running") refresh();
    };
    socket.on("billing:progress", onProgress);
    return () => {
      socket.off("billing:progress", onProgress);
    };
  }, [socket, refresh]);

  return (
    <main className="page" data-testid="billing-runs">
      <div className="wall-head">
        <h1>Billing runs</h1>
        <LiveIndicator status={status} />
      </div>
      <section className="card">
        <button className="primary" data-testid="run-billing" disabled={request.isPending} onClick={() => request.mutate({ kind: "billing" })}>
          Run billing now
        </button>{" "}
        <button data-testid="run-dunning" disabled={request.isPending} onClick={() => request.mutate({ kind: "dunning" })}>
          Run dunning now
        </button>
        {request.data && (
          <p className="muted" data-testid="billing-request" data-run-id={request.data.runId}>
            Run {request.data.runId} for {request.data.period} {request.data.alreadyRequested ? "was already requested" : "requested"}; the collector picks it up.
          </p>
        )}
        {request.error && <p className="error">{request.error.message}</p>}
        {(["billing", "dunning"] as const).map((kind) => {
          const p = progress[kind];
          if (!p) return null;
          const pct = p.total > 0 ? Math.min(100, Math.round((100 * p.done) / p.total)) : 100;
          return (
            <div key={kind} className="bar-cell" data-testid={`progress-${kind}`} data-run-id={p.runId} data-status={p.status}>
              <span>
                {kind} #{p.runId}
              </span>
              <span className="bar">
                <span className="bar-fill up" style={{ width: `${pct}%` }} />
              </span>
              <span>
                {pct}% ({p.done}/{p.total}) {p.status}
              </span>
            </div>
          );
        })}
      </section>
      <section className="card">
        <h2>Last runs</h2>
        <table className="data">
          <thead>
            <tr>
              <th>Run</th>
              <th>Kind</th>
              <th>Period</th>
              <th>Status</th>
              <th>Processed</th>
              <th>Created</th>
              <th>Duration</th>
              <th>Requested by</th>
            </tr>
          </thead>
          <tbody>
            {(runs.data ?? []).map((r) => (
              <tr key={r.id} title={r.error ?? undefined} data-testid="run-row" data-run-id={r.id} data-status={r.status}>
                <td>{r.id}</td>
                <td>{r.kind}</td>
                <td>{r.period}</td>
                <td>{r.status}</td>
                <td data-testid="run-processed">{r.processed}</td>
                <td data-testid="run-created">{r.created}</td>
                <td>{r.seconds === null ? "—" : `${r.seconds} s`}</td>
                <td>{r.requestedBy ?? "schedule"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
