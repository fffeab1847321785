"use client";
// A wall display stays signed in while it is open: each call to /api/auth/session
// re-issues the JWT cookie with a fresh expiry (sliding session). A closed browser still
// expires after the session's maxAge.
import { useEffect } from "react";

export const sessionKeepAliveMs = 15 * 60 * 1000;

export function SessionKeepAlive() {
  useEffect(() => {
    const t = setInterval(() => {
      void fetch("/api/auth/session", { cache: "no-store" }).catch(() => undefined);
    }, sessionKeepAliveMs);
    return () => clearInterval(t);
  }, []);
  return null;
}
