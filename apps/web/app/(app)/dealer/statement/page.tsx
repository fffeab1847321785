import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { managerRoles } from "~/lib/roles";
import { toPktLocalInput } from "~/lib/pkt";
import { currentOperator } from "~/server/auth";
import { StatementView } from "./StatementView";

export const metadata: Metadata = { title: "Dealer statement" };

export default async function DealerStatementPage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  const picksDealer = managerRoles.includes(operator.role);
  if (operator.role !== "dealer" && !picksDealer) {
    // accounts.dealerStatement refuses on its own; this only says so plainly.
    return (
      <main className="page">
        <h1>Dealer statement</h1>
        <p className="error" data-testid="statement-forbidden">
          Wallet statements are for dealers (their own wallet) and for admins and managers. Your role ({operator.role}) may not read them.
        </p>
      </main>
    );
  }
  // Defaults from the server clock in Karachi business dates: this month so far.
  const today = toPktLocalInput(new Date()).slice(0, 10);
  return (
    <main className="page">
      <div className="page-head">
        <h1>Dealer statement</h1>
        <span className="muted">Wallet movements from the ledger: top-ups, recharges and commissions.</span>
      </div>
      <StatementView picksDealer={picksDealer} defaultFrom={`${today.slice(0, 8)}01`} defaultTo={today} />
    </main>
  );
}
