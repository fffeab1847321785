import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { managerRoles } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { BillingRuns } from "./BillingRuns";

export const metadata: Metadata = { title: "Billing runs" };

export default async function BillingPage() {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  if (!managerRoles.includes(operator.role)) redirect("/subscribers");
  return <BillingRuns />;
}
