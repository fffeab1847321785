import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { canLookUpNat } from "~/lib/roles";
import { toPktLocalInput } from "~/lib/pkt";
import { currentOperator } from "~/server/auth";
import { ComplianceView } from "./ComplianceView";

export const metadata: Metadata = { title: "Compliance" };

export default async function CompliancePage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!canLookUpNat(operator.role)) {
    // The procedures and export routes refuse on their own; this only says so plainly.
    return (
      <main className="page">
        <h1>Compliance lookup</h1>
        <p className="error" data-testid="compliance-forbidden">
          Only compliance officers may look up who used an IP address. Your role ({operator.role}) is not allowed to, and the
          server refuses such lookups.
        </p>
      </main>
    );
  }
  // Defaults come from the server so the first render matches in the browser.
  return (
    <main className="page wide">
      <div className="page-head">
        <h1>Compliance lookup</h1>
        <span className="muted">Every lookup and export is recorded in the audit log with your name.</span>
      </div>
      <ComplianceView nowPkt={toPktLocalInput(new Date()).slice(0, 16)} />
    </main>
  );
}
