"use client";
import { useState } from "react";
import { LookupPanel } from "./LookupPanel";
import { SessionPanel } from "./SessionPanel";
import { VerifyPanel } from "./VerifyPanel";

const tabs = [
  { id: "lookup", label: "Who had this IP" },
  { id: "sessions", label: "Session history" },
  { id: "verify", label: "Verify a report" },
] as const;
type Tab = (typeof tabs)[number]["id"];

export function ComplianceView({ nowPkt }: { nowPkt: string }) {
  const [tab, setTab] = useState<Tab>("lookup");
  return (
    <>
      <div className="tabs" role="tablist">
        {tabs.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? "active" : ""} onClick={() => setTab(t.id)} data-testid={`tab-${t.id}`}>
            {t.label}
          </button>
        ))}
      </div>
      {/* Kept mounted so switching tabs keeps each form and its answer. */}
      <div hidden={tab !== "lookup"}>
        <LookupPanel nowPkt={nowPkt} />
      </div>
      <div hidden={tab !== "sessions"}>
        <SessionPanel nowPkt={nowPkt} />
      </div>
      <div hidden={tab !== "verify"}>
        <VerifyPanel />
      </div>
    </>
  );
}
