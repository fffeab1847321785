import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { canHandleEscalations, canSeeNoc, canSeeNocAuthLog } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { serverApi } from "~/trpc/server";
import { NocWall } from "./NocWall";

export const metadata: Metadata = { title: "NOC wall" };

export default async function NocPage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!canSeeNoc(operator.role)) redirect("/subscribers");
  // First paint from the database, so the wall shows numbers before the socket connects.
  const api = await serverApi();
  const snapshot = await api.noc.snapshot();
  const escalations = canHandleEscalations(operator.role) ? (await api.escalations.count()).open : null;
  return <NocWall initial={snapshot} escalations={escalations} authLog={canSeeNocAuthLog(operator.role)} />;
}
