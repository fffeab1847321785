import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { homeFor } from "~/lib/roles";
import { currentOperator } from "~/server/auth";
import { LoginForm } from "./LoginForm";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string }> }) {
  const operator = await currentOperator();
  if (operator) redirect(homeFor(operator.role));
  const { callbackUrl } = await searchParams;
  // Only same-site paths: an open redirect on the login page is a phishing aid.
  const next = callbackUrl && callbackUrl.startsWith("/") && !callbackUrl.startsWith("//") ? callbackUrl : "/";
  return (
    <main className="centered">
      <LoginForm next={next} />
    </main>
  );
}
