-- Proration of mid-cycle plan changes and terminations (issue 5; docs/billing-runs.md).
-- An adjustment document (an invoice for an upgrade, a credit note for a downgrade or a
-- termination) belongs to the period its action fell in, so it cannot share the run's
-- one-document-per-(subscriber, period_start, kind) key: it carries its cause in `source`
-- (`plan_change:<actionId>`, `termination:<actionId>`, unique: one document per action),
-- and the period key becomes a partial index over the documents without a source (run
-- invoices and late fees, whose writers say `ON CONFLICT … WHERE source IS NULL`).
ALTER TABLE "invoices" ADD COLUMN "source" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "invoices_source_key" ON "invoices"("source");

DROP INDEX "invoices_subscriber_id_period_start_kind_key";
CREATE UNIQUE INDEX "invoices_period_key" ON "invoices"("subscriber_id", "period_start", "kind") WHERE "source" IS NULL;

-- One row per processed change_plan / terminate action: the document it produced, or why
-- none (period not invoiced before the action, a billing-cycle change, nothing to credit).
-- The primary key is the idempotency guarantee: a re-run or a crash never posts twice.
-- CreateTable
CREATE TABLE "billing_adjustments" (
    "action_id" BIGINT NOT NULL,
    "audit_id" BIGINT NOT NULL,
    "action_at" TIMESTAMPTZ(3) NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "effective_on" DATE NOT NULL,
    "outcome" TEXT NOT NULL,
    "invoice_id" INTEGER,
    "total_paisa" BIGINT NOT NULL DEFAULT 0,
    "note" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "billing_adjustments_pkey" PRIMARY KEY ("action_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "billing_adjustments_audit_id_key" ON "billing_adjustments"("audit_id");

-- CreateIndex
CREATE INDEX "billing_adjustments_action_at_idx" ON "billing_adjustments"("action_at");

-- CreateIndex
CREATE INDEX "billing_adjustments_subscriber_id_idx" ON "billing_adjustments"("subscriber_id");
