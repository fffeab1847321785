import type { Metadata } from "next";
import { SubscriberSearch } from "./SubscriberSearch";

export const metadata: Metadata = { title: "Subscribers" };

export default async function SubscribersPage({ searchParams }: { searchParams: Promise<{ q?: string }> }) {
  const { q } = await searchParams;
  return (
    <main className="page">
      <h1>Subscribers</h1>
      <SubscriberSearch initialQuery={typeof q === "string" ? q.slice(0, 100) : ""} />
    </main>
  );
}
