import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { LogoutButton } from "~/components/LogoutButton";
import { SessionKeepAlive } from "~/components/SessionKeepAlive";
import { canLookUpNat, canSeeNoc } from "~/lib/roles";
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
          <Link href="/subscribers">Subscribers</Link>
          {canLookUpNat(operator.role) && <Link href="/compliance">Compliance</Link>}
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
