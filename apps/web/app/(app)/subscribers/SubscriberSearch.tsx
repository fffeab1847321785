"use client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { useTRPC } from "~/trpc/react";

const debounceMs = 250;
const resultsMax = 50;

export function SubscriberSearch({ initialQuery }: { initialQuery: string }) {
  const trpc = useTRPC();
  const pathname = usePathname();
  const [text, setText] = useState(initialQuery);
  const [q, setQ] = useState(initialQuery);

  useEffect(() => {
    const t = setTimeout(() => setQ(text.trim()), debounceMs);
    return () => clearTimeout(t);
  }, [text]);

  // Written into the URL only when leaving for a subscriber, so Back returns to the same
  // results; rewriting it while typing would race (and cancel) a click's navigation.
  const rememberQuery = () => {
    window.history.replaceState(window.history.state, "", q ? `${pathname}?q=${encodeURIComponent(q)}` : pathname);
  };

  const results = useQuery(trpc.subscriber.search.queryOptions({ q, limit: resultsMax }, { placeholderData: keepPreviousData }));

  return (
    <>
      <div className="search">
        <input
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Account no, name, phone, PPPoE username or CNIC"
          autoFocus
          maxLength={100}
          data-testid="subscriber-search"
        />
        <span className="muted">{results.isFetching ? "searching…" : results.data ? `${results.data.length}${results.data.length === resultsMax ? "+" : ""} shown` : ""}</span>
      </div>
      {results.error && <p className="error">Search failed: {results.error.message}</p>}
      <table className="data" data-testid="search-results">
        <thead>
          <tr>
            <th>Account</th>
            <th>Name</th>
            <th>Phone</th>
            <th>Plan</th>
            <th>Status</th>
            <th>Dealer</th>
            <th>Session</th>
          </tr>
        </thead>
        <tbody>
          {results.data?.map((s) => (
            <tr key={s.id} data-testid="search-row" data-account={s.accountNo}>
              <td>
                <Link href={`/subscribers/${s.id}`} prefetch={false} onClick={rememberQuery}>
                  {s.accountNo}
                </Link>
              </td>
              <td>{s.name}</td>
              <td className="mono">{s.phone}</td>
              <td>{s.planName}</td>
              <td>
                <span className={`badge ${s.status}`}>{s.status}</span>
              </td>
              <td>{s.dealerName ?? <span className="muted">direct</span>}</td>
              <td>{s.online ? <span className="badge online">online</span> : <span className="muted">offline</span>}</td>
            </tr>
          ))}
          {results.data?.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                No subscriber matches “{q}”.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}
