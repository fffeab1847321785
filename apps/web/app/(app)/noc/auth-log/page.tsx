import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { canSeeNocAuthLog } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { AuthLogView, type AuthLogFilters } from "./AuthLogView";

export const metadata: Metadata = { title: "Auth log" };

const windows = ["15m", "1h", "6h", "24h", "7d"] as const;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// Every router's login attempts (docs/radius-auth.md, "Auth log"). Filters come from the
// URL too (/noc/auth-log?result=reject&reason=wrong_password&window=24h), so a link can
// carry them; the procedures validate them again.
export default async function AuthLogPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!canSeeNocAuthLog(operator.role)) redirect("/subscribers");
  const sp = await searchParams;
  const result = one(sp.result);
  const reason = one(sp.reason);
  const router = Number(one(sp.router));
  const span = one(sp.window);
  const initial: AuthLogFilters = {
    routerId: Number.isSafeInteger(router) && router > 0 ? router : null,
    result: result === "accept" || result === "reject" || result === "drop" ? result : null,
    reason: reason && /^[a-z_]{1,64}$/.test(reason) ? reason : null,
    usernamePrefix: (one(sp.user) ?? "").slice(0, 64),
    window: windows.find((w) => w === span) ?? "1h",
  };
  return <AuthLogView initial={initial} />;
}
