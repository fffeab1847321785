import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { canHandleEscalations } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { serverApi } from "~/trpc/server";
import { Escalations } from "./Escalations";

export const metadata: Metadata = { title: "Escalations" };

export default async function EscalationsPage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!canHandleEscalations(operator.role)) redirect("/subscribers");
  // First paint from the database; live events refresh it afterwards.
  const initial = await (await serverApi()).escalations.list({ includeAcked: false, limit: 100 });
  return <Escalations initial={initial} />;
}
