import Link from "next/link";

export default function NotFound() {
  return (
    <main className="centered" data-testid="not-found">
      <h1>404 — not found</h1>
      <p className="muted">This page does not exist, or you do not have access to it.</p>
      <p>
        <Link href="/">Back to start</Link>
      </p>
    </main>
  );
}
