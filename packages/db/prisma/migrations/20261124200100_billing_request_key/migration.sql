-- At most one open request per (kind, period): a second request is a no-op. A separate
-- migration because an enum value cannot be used in the transaction that adds it.
CREATE UNIQUE INDEX "billing_runs_one_request_key" ON "billing_runs"("kind", "period_start") WHERE "status" = 'requested';
