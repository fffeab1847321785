"use client";
import { formatPkt, formatUtc, parsePktLocal } from "~/lib/pkt";

/** A Pakistan-time input that shows the UTC instant it stands for, as the officer types. */
export function TimeField({ label, value, onChange, testId }: { label: string; value: string; onChange: (v: string) => void; testId: string }) {
  const at = value ? parsePktLocal(value) : null;
  return (
    <label className="field">
      <span>
        {label} <strong>(PKT, UTC+05:00)</strong>
      </span>
      <input type="datetime-local" step={1} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} required />
      <span className="muted mono" data-testid={`${testId}-utc`}>
        {at ? `${formatPkt(at)} = ${formatUtc(at)}` : value ? "not a valid time" : " "}
      </span>
    </label>
  );
}
