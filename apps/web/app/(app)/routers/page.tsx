import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { canManageRouters, canSeeRouters } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { serverApi } from "~/trpc/server";
import { RoutersAdmin } from "./RoutersAdmin";

export const metadata: Metadata = { title: "Routers" };

// Routers (NAS): the NOC reads, admins add, change and deactivate (docs/radius-auth.md,
// "Adding a router (NAS)"). The procedures check the role again.
export default async function RoutersPage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!canSeeRouters(operator.role)) redirect("/subscribers");
  const initial = await (await serverApi()).routers.list();
  return <RoutersAdmin initial={initial} canManage={canManageRouters(operator.role)} />;
}
