"use client";
// One Socket.IO connection to the collector's live hub per page.
// The wall runs for days: socket.io-client reconnects by itself (backoff capped at
// reconnectDelayMaxMs), and `auth` is a function so every (re)connect presents a fresh
// token — a collector restart or an expired token never needs a page reload.
import { useEffect, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { useTRPCClient } from "../trpc/react";

export type LiveStatus = "connecting" | "live" | "reconnecting";

const reconnectDelayMs = 500;
const reconnectDelayMaxMs = 5_000;
const connectTimeoutMs = 10_000;
/** Before the first token arrives (or while the web app itself restarts). */
const tokenRetryMs = 2_000;

export function useLiveSocket(): { socket: Socket | null; status: LiveStatus } {
  const client = useTRPCClient();
  const [socket, setSocket] = useState<Socket | null>(null);
  const [status, setStatus] = useState<LiveStatus>("connecting");

  useEffect(() => {
    let cancelled = false;
    let created: Socket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const open = async () => {
      let first: { token: string; url: string };
      try {
        first = await client.live.token.query();
      } catch {
        if (!cancelled) retry = setTimeout(() => void open(), tokenRetryMs);
        return;
      }
      if (cancelled) return;
      let initial: string | null = first.token;
      const s = io(first.url, {
        transports: ["websocket"],
        reconnection: true,
        reconnectionAttempts: Infinity,
        reconnectionDelay: reconnectDelayMs,
        reconnectionDelayMax: reconnectDelayMaxMs,
        timeout: connectTimeoutMs,
        auth: (cb) => {
          if (initial) {
            cb({ token: initial });
            initial = null;
            return;
          }
          client.live.token
            .query()
            .then((t) => cb({ token: t.token }))
            // No token (web app restarting): connect without one; the hub refuses and the
            // manager retries with backoff.
            .catch(() => cb({ token: "" }));
        },
      });
      created = s;
      s.on("connect", () => setStatus("live"));
      s.on("disconnect", (reason) => {
        setStatus("reconnecting");
        // A collector shutting down disconnects us on purpose; socket.io then leaves the
        // reconnecting to us. A failed connect() falls back to its own backoff.
        if (reason === "io server disconnect") {
          setTimeout(() => {
            if (!cancelled && !s.connected) s.connect();
          }, reconnectDelayMs);
        }
      });
      s.on("connect_error", () => {
        setStatus("reconnecting");
        // A refused handshake (bad token) is not retried by socket.io itself.
        if (!s.active) setTimeout(() => {
          if (!cancelled) s.connect();
        }, reconnectDelayMaxMs);
      });
      setSocket(s);
    };
    void open();

    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      created?.removeAllListeners();
      created?.disconnect();
    };
  }, [client]);

  return { socket, status };
}

/** Runs `subscribe` now (if connected) and after every reconnect: rooms do not survive one. */
export function useOnConnect(socket: Socket | null, subscribe: (s: Socket) => void): void {
  useEffect(() => {
    if (!socket) return;
    const run = () => subscribe(socket);
    if (socket.connected) run();
    socket.on("connect", run);
    return () => {
      socket.off("connect", run);
    };
  }, [socket, subscribe]);
}
