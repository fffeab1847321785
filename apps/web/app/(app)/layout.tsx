import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { LogoutButton } from "~/components/LogoutButton";
import { SessionKeepAlive } from "~/components/SessionKeepAlive";
import { canLookUpNat, canSeeNoc, canSeeNocAuthLog, canSeeRouters, managerRoles } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { TrpcReactProvider } from "~/trpc/react";

export const dynamic = "force-dynamic";

// The guard for every signed-in page; tRPC procedures check again on their own.
export default async function AppLayout({ children }: { children: ReactNode }) {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  return (
    <TrpcReactProvider>
      <SessionKeepAlive />
      <header className="topbar">
        <Link href="/" className="brand">
          ISP Ops
        </Link>
        <nav>
          {canSeeNoc(operator.role) && <Link href="/noc">NOC wall</Link>}
          {canSeeNocAuthLog(operator.role) && <Link href="/noc/auth-log">Auth log</Link>}
          {canSeeRouters(operator.role) && <Link href="/routers">Routers</Link>}
          <Link href="/subscribers">Subscribers</Link>
          {canLookUpNat(operator.role) && <Link href="/compliance">Compliance</Link>}
          {(operator.role === "dealer" || managerRoles.includes(operator.role)) && <Link href="/dealer/statement">Dealer statement</Link>}
          {managerRoles.includes(operator.role) && <Link href="/billing">Billing</Link>}
        </nav>
        <div className="whoami" data-testid="whoami">
          {operator.name} <span className="role">{operator.role}</span>
          <LogoutButton />
        </div>
      </header>
      {children}
    </TrpcReactProvider>
  );
}
