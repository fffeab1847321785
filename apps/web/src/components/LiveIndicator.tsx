"use client";
import type { LiveStatus } from "../live/useLiveSocket";

const labels: Record<LiveStatus, string> = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };

export function LiveIndicator({ status }: { status: LiveStatus }) {
  return (
    <span className={`live-indicator ${status}`} data-testid="live-indicator" data-status={status} role="status">
      <span className="dot" aria-hidden="true" />
      {labels[status]}
    </span>
  );
}
