import { redirect } from "next/navigation";
import { homeFor } from "~/lib/roles";
import { currentOperator } from "~/server/auth";

export const dynamic = "force-dynamic";

export default async function Home() {
  const operator = await currentOperator();
  redirect(operator ? homeFor(operator.role) : "/login");
}
