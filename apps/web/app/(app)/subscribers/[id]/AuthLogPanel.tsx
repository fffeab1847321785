"use client";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import type { SubscriberAuthLogDto } from "~/server/routers/auth-log";
import { describeAuthAttempt } from "~/lib/auth-reasons";
import { formatPkt } from "~/lib/pkt";
import { useTRPC } from "~/trpc/react";

/** An agent on the phone sees the customer's next attempt appear within this. */
const pollMs = 10_000;
/** "Show more" steps up to the server's maximum (recentAuthAttemptsLimitMax). */
const limitSteps = [50, 100, 200, 500] as const;

// "Why can't this customer connect": the last login attempts (RADIUS Access-Requests) under
// this subscriber or their PPPoE user name, newest first, within 30 days
// (docs/radius-auth.md, "Auth log").
export function AuthLogPanel({ subscriberId }: { subscriberId: number }) {
  const trpc = useTRPC();
  const [step, setStep] = useState(0);
  const limit = limitSteps[step]!;
  const q = useQuery(
    trpc.authLog.subscriber.queryOptions(
      { subscriberId, limit },
      { refetchInterval: pollMs, refetchIntervalInBackground: false, placeholderData: (prev) => prev },
    ),
  );
  const data = q.data;
  return (
    <section className="card" data-testid="auth-log-panel">
      <h2>
        Login attempts <span className="muted h2-note">(last 30 days, refreshes every {pollMs / 1000} s)</span>
      </h2>
      {q.isError && !data && <p className="error">Could not load the login attempts: {q.error.message}</p>}
      {!data && !q.isError && <p className="muted">Loading…</p>}
      {data && <Latest data={data} />}
      {data && (
        <div className="table-scroll">
          <table className="data compact" data-testid="auth-log">
            <thead>
              <tr>
                <th>Time</th>
                <th>Router</th>
                <th>MAC</th>
                <th>Method</th>
                <th>Result</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {data.attempts.map((a) => {
                const info = describeAuthAttempt(a, data.boundMac);
                return (
                  <tr key={`${a.time}|${a.id}`} data-testid="auth-attempt" data-result={a.result} data-reason={a.reason}>
                    <td>{formatPkt(a.time)}</td>
                    <td>
                      {a.routerName ?? "unknown router"} <span className="muted mono">{a.nasIp}</span>
                    </td>
                    <td className="mono">{a.callingStationId ?? "—"}</td>
                    <td>{a.method}</td>
                    <td>
                      <span className={`badge ${a.result}`}>{a.result}</span>
                    </td>
                    <td className="auth-why">
                      <div data-testid="auth-attempt-reason">{info.text}</div>
                      {a.username !== data.username && <div className="auth-hint">as user name “{a.username}”</div>}
                      {a.result === "accept" && a.reply && <div className="auth-hint mono">{a.reply}</div>}
                      {info.hint && a.result !== "accept" && (
                        <div className="auth-hint" data-testid="auth-attempt-hint">
                          {info.hint}
                        </div>
                      )}
                    </td>
                  </tr>
                );
              })}
              {data.attempts.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No login attempt has reached us in the last 30 days: the customer&apos;s router is not dialling (check its line and PPPoE settings).
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          {data.hasMore && step < limitSteps.length - 1 && (
            <button type="button" className="link" data-testid="auth-log-more" disabled={q.isFetching} onClick={() => setStep((s) => Math.min(s + 1, limitSteps.length - 1))}>
              Show more ({limitSteps[step + 1]})
            </button>
          )}
        </div>
      )}
    </section>
  );
}

/** The answer to "why can't I connect" in one line: the newest attempt. */
function Latest({ data }: { data: SubscriberAuthLogDto }) {
  const a = data.attempts[0];
  if (!a) return null;
  const info = describeAuthAttempt(a, data.boundMac);
  if (a.result === "accept") {
    return (
      <p className="ok" data-testid="auth-log-latest" data-result={a.result}>
        Last login succeeded at {formatPkt(a.time)} ({info.text}).
      </p>
    );
  }
  return (
    <p className="error" data-testid="auth-log-latest" data-result={a.result}>
      Last login failed at {formatPkt(a.time)}: <strong>{info.text}</strong>
      {info.hint && <span className="muted"> — {info.hint}</span>}
    </p>
  );
}
