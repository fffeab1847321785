import { TRPCError } from "@trpc/server";
import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";
import { canDisconnect, canRecordBank, canRecordCash, canReversePayment, canSeeAccounts, canSeeSubscriberAuthLog } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { serverApi } from "~/trpc/server";
import { AuthLogPanel } from "./AuthLogPanel";
import { BillingPanel } from "./BillingPanel";
import { SubscriberView } from "./SubscriberView";

export const metadata: Metadata = { title: "Subscriber" };

export default async function SubscriberPage({ params }: { params: Promise<{ id: string }> }) {
  const operator = await currentOperator();
  if (!operator) redirect("/login");
  const { id: raw } = await params;
  const id = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) notFound();
  let detail;
  try {
    detail = await (await serverApi()).subscriber.get({ id });
  } catch (err) {
    if (err instanceof TRPCError && err.code === "NOT_FOUND") notFound();
    throw err;
  }
  return (
    <SubscriberView
      initial={detail}
      canDisconnect={canDisconnect(operator.role)}
      authLog={canSeeSubscriberAuthLog(operator.role) ? <AuthLogPanel subscriberId={id} /> : null}
      billing={
        canSeeAccounts(operator.role) ? (
          <BillingPanel
            subscriberId={id}
            permissions={{ cash: canRecordCash(operator.role), bank: canRecordBank(operator.role), reverse: canReversePayment(operator.role) }}
          />
        ) : null
      }
    />
  );
}
