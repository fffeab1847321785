-- Billing runs (issue 5): invoices with gapless numbers per series, their lines, a
-- double-entry ledger, dunning state and action keys, a notification outbox and run
-- progress. Money is BIGINT paisa. Idempotency lives in unique keys: a period is billed
-- once per subscriber, a ledger transaction id and a dunning action key exist once.

-- CreateEnum
CREATE TYPE "invoice_kind" AS ENUM ('invoice', 'credit_note');

-- CreateEnum
CREATE TYPE "billing_run_status" AS ENUM ('running', 'completed', 'failed');

-- AlterTable: invoices had no rows written by anything before this migration.
ALTER TABLE "invoices" ALTER COLUMN "total_paisa" SET DATA TYPE BIGINT,
ADD COLUMN "kind" "invoice_kind" NOT NULL DEFAULT 'invoice',
ADD COLUMN "series" TEXT NOT NULL,
ADD COLUMN "seq" INTEGER NOT NULL,
ADD COLUMN "issued_on" DATE NOT NULL,
ADD COLUMN "net_paisa" BIGINT NOT NULL,
ADD COLUMN "tax_paisa" BIGINT NOT NULL,
ADD COLUMN "billing_run_id" BIGINT;

-- AlterTable
ALTER TABLE "payments" ALTER COLUMN "amount_paisa" SET DATA TYPE BIGINT,
ADD COLUMN "receipt_no" TEXT NOT NULL,
ADD COLUMN "reversed_at" TIMESTAMPTZ(3),
ADD COLUMN "reversal_reason" TEXT;

-- CreateTable
CREATE TABLE "invoice_counters" (
    "series" TEXT NOT NULL,
    "last_seq" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "invoice_counters_pkey" PRIMARY KEY ("series")
);

-- CreateTable
CREATE TABLE "invoice_lines" (
    "id" BIGSERIAL NOT NULL,
    "invoice_id" INTEGER NOT NULL,
    "position" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "revenue_account" TEXT NOT NULL,
    "charged_paisa" BIGINT NOT NULL,
    "discount_paisa" BIGINT NOT NULL,
    "net_paisa" BIGINT NOT NULL,
    "tax_paisa" BIGINT NOT NULL,
    "total_paisa" BIGINT NOT NULL,
    "taxes" JSONB NOT NULL,

    CONSTRAINT "invoice_lines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_transactions" (
    "id" BIGSERIAL NOT NULL,
    "key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "subscriber_id" INTEGER,
    "occurred_on" DATE NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "account" TEXT NOT NULL,
    "amount_paisa" BIGINT NOT NULL,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dunning_state" (
    "subscriber_id" INTEGER NOT NULL,
    "state" TEXT NOT NULL,
    "access" TEXT NOT NULL,
    "record" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dunning_state_pkey" PRIMARY KEY ("subscriber_id")
);

-- CreateTable
CREATE TABLE "dunning_actions" (
    "id" BIGSERIAL NOT NULL,
    "key" TEXT NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "enforcement_id" BIGINT,
    "note" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dunning_actions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_outbox" (
    "id" BIGSERIAL NOT NULL,
    "key" TEXT NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "billing_runs" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "period_start" DATE NOT NULL,
    "status" "billing_run_status" NOT NULL DEFAULT 'running',
    "cursor" INTEGER NOT NULL DEFAULT 0,
    "processed" INTEGER NOT NULL DEFAULT 0,
    "created" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "error" TEXT,

    CONSTRAINT "billing_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "invoices_subscriber_id_period_start_kind_key" ON "invoices"("subscriber_id", "period_start", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "invoices_series_seq_key" ON "invoices"("series", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "payments_receipt_no_key" ON "payments"("receipt_no");

-- CreateIndex
CREATE UNIQUE INDEX "invoice_lines_invoice_id_position_key" ON "invoice_lines"("invoice_id", "position");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transactions_key_key" ON "ledger_transactions"("key");

-- CreateIndex
CREATE INDEX "ledger_transactions_subscriber_id_idx" ON "ledger_transactions"("subscriber_id");

-- CreateIndex
CREATE INDEX "ledger_entries_transaction_id_idx" ON "ledger_entries"("transaction_id");

-- CreateIndex
CREATE INDEX "ledger_entries_account_idx" ON "ledger_entries"("account");

-- CreateIndex
CREATE UNIQUE INDEX "dunning_actions_key_key" ON "dunning_actions"("key");

-- CreateIndex
CREATE INDEX "dunning_actions_subscriber_id_idx" ON "dunning_actions"("subscriber_id");

-- CreateIndex
CREATE UNIQUE INDEX "notification_outbox_key_key" ON "notification_outbox"("key");

-- CreateIndex
CREATE INDEX "notification_outbox_status_created_at_idx" ON "notification_outbox"("status", "created_at");

-- CreateIndex
CREATE INDEX "billing_runs_kind_period_start_idx" ON "billing_runs"("kind", "period_start");

-- AddForeignKey
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_invoice_id_fkey" FOREIGN KEY ("invoice_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Every statement that writes entries must leave each transaction it touched balanced
-- (debits positive, credits negative, sum zero) and non-empty. A statement-level trigger
-- with a transition table checks once per INSERT, not once per row, so a billing chunk
-- of thousands of transactions pays for one grouped query. Writers insert all entries of
-- a transaction in one statement.
CREATE FUNCTION "ledger_entries_balanced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad BIGINT;
BEGIN
  SELECT e.transaction_id INTO bad
  FROM ledger_entries e
  WHERE e.transaction_id IN (SELECT DISTINCT transaction_id FROM new_entries)
  GROUP BY e.transaction_id
  HAVING sum(e.amount_paisa) <> 0
  LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance', bad USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "ledger_entries_balanced" AFTER INSERT ON "ledger_entries"
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION "ledger_entries_balanced"();

-- Append-only: a correction is a reversal transaction, never an edit.
CREATE FUNCTION "ledger_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE ON "ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();
CREATE TRIGGER "ledger_transactions_append_only" BEFORE UPDATE OR DELETE ON "ledger_transactions"
  FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();

ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_amount_nonzero" CHECK ("amount_paisa" <> 0);
