-- CreateEnum
CREATE TYPE "operator_role" AS ENUM ('admin', 'noc', 'support', 'manager', 'dealer', 'compliance');

-- CreateEnum
CREATE TYPE "billing_cycle" AS ENUM ('monthly', 'quarterly', 'yearly', 'prepaid_days');

-- CreateEnum
CREATE TYPE "subscriber_status" AS ENUM ('pending', 'active', 'suspended', 'terminated');

-- CreateEnum
CREATE TYPE "router_vendor" AS ENUM ('mikrotik', 'cisco', 'juniper', 'other');

-- CreateEnum
CREATE TYPE "session_status" AS ENUM ('active', 'stopped', 'stale');

-- CreateEnum
CREATE TYPE "enforcement_kind" AS ENUM ('disconnect');

-- CreateEnum
CREATE TYPE "enforcement_status" AS ENUM ('pending', 'sending', 'acked', 'nak', 'timeout', 'failed');

-- CreateEnum
CREATE TYPE "invoice_status" AS ENUM ('open', 'paid', 'void');

-- CreateEnum
CREATE TYPE "payment_method" AS ENUM ('cash', 'bank_transfer', 'online');

-- CreateTable
CREATE TABLE "dealers" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "phone" TEXT NOT NULL,
    "city" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dealers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "operators" (
    "id" SERIAL NOT NULL,
    "username" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "operator_role" NOT NULL,
    "dealer_id" INTEGER,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "operators_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "plans" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "download_kbps" INTEGER NOT NULL,
    "upload_kbps" INTEGER NOT NULL,
    "price_paisa" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL DEFAULT 'PKR',
    "billing_cycle" "billing_cycle" NOT NULL DEFAULT 'monthly',
    "validity_days" INTEGER,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "subscribers" (
    "id" SERIAL NOT NULL,
    "account_no" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "phone" TEXT NOT NULL,
    "cnic" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "city" TEXT NOT NULL,
    "dealer_id" INTEGER,
    "plan_id" INTEGER NOT NULL,
    "status" "subscriber_status" NOT NULL DEFAULT 'active',
    "pppoe_username" TEXT NOT NULL,
    "pppoe_password" TEXT NOT NULL,
    "static_ip" INET,
    "mac_address" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscribers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "routers" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "ip_address" INET NOT NULL,
    "vendor" "router_vendor" NOT NULL DEFAULT 'mikrotik',
    "radius_secret" TEXT NOT NULL,
    "coa_port" INTEGER NOT NULL DEFAULT 3799,
    "api_port" INTEGER,
    "api_username" TEXT,
    "api_password" TEXT,
    "location" TEXT,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "routers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "radius_sessions" (
    "id" BIGSERIAL NOT NULL,
    "router_id" INTEGER NOT NULL,
    "acct_session_id" TEXT NOT NULL,
    "subscriber_id" INTEGER,
    "username" TEXT NOT NULL,
    "status" "session_status" NOT NULL DEFAULT 'active',
    "framed_ip" INET,
    "calling_station_id" TEXT,
    "nas_port_id" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "last_update_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),
    "session_time_s" INTEGER NOT NULL DEFAULT 0,
    "input_octets" BIGINT NOT NULL DEFAULT 0,
    "output_octets" BIGINT NOT NULL DEFAULT 0,
    "input_bps" BIGINT NOT NULL DEFAULT 0,
    "output_bps" BIGINT NOT NULL DEFAULT 0,
    "terminate_cause" TEXT,

    CONSTRAINT "radius_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoices" (
    "id" SERIAL NOT NULL,
    "number" TEXT NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "due_date" DATE NOT NULL,
    "total_paisa" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL DEFAULT 'PKR',
    "status" "invoice_status" NOT NULL DEFAULT 'open',
    "issued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "invoices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payments" (
    "id" SERIAL NOT NULL,
    "subscriber_id" INTEGER NOT NULL,
    "amount_paisa" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL DEFAULT 'PKR',
    "method" "payment_method" NOT NULL,
    "reference" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "operator_id" INTEGER,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "enforcement_outbox" (
    "id" BIGSERIAL NOT NULL,
    "kind" "enforcement_kind" NOT NULL,
    "status" "enforcement_status" NOT NULL DEFAULT 'pending',
    "subscriber_id" INTEGER NOT NULL,
    "router_id" INTEGER,
    "acct_session_id" TEXT,
    "requested_by_id" INTEGER,
    "reason" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 5,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "locked_until" TIMESTAMPTZ(3),
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "router_latency_ms" INTEGER,
    "total_latency_ms" INTEGER,
    "error_cause" INTEGER,
    "last_error" TEXT,
    "result" JSONB,

    CONSTRAINT "enforcement_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "operator_id" INTEGER,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT NOT NULL,
    "details" JSONB,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "dealers_code_key" ON "dealers"("code");

-- CreateIndex
CREATE UNIQUE INDEX "operators_username_key" ON "operators"("username");

-- CreateIndex
CREATE UNIQUE INDEX "plans_code_key" ON "plans"("code");

-- CreateIndex
CREATE UNIQUE INDEX "subscribers_account_no_key" ON "subscribers"("account_no");

-- CreateIndex
CREATE UNIQUE INDEX "subscribers_pppoe_username_key" ON "subscribers"("pppoe_username");

-- CreateIndex
CREATE UNIQUE INDEX "subscribers_static_ip_key" ON "subscribers"("static_ip");

-- CreateIndex
CREATE INDEX "subscribers_dealer_id_idx" ON "subscribers"("dealer_id");

-- CreateIndex
CREATE INDEX "subscribers_plan_id_idx" ON "subscribers"("plan_id");

-- CreateIndex
CREATE INDEX "subscribers_phone_idx" ON "subscribers"("phone");

-- CreateIndex
CREATE UNIQUE INDEX "routers_name_key" ON "routers"("name");

-- CreateIndex
CREATE UNIQUE INDEX "routers_ip_address_key" ON "routers"("ip_address");

-- CreateIndex
CREATE INDEX "radius_sessions_subscriber_id_status_idx" ON "radius_sessions"("subscriber_id", "status");

-- CreateIndex
CREATE INDEX "radius_sessions_status_started_at_idx" ON "radius_sessions"("status", "started_at");

-- CreateIndex
CREATE UNIQUE INDEX "radius_sessions_router_id_acct_session_id_key" ON "radius_sessions"("router_id", "acct_session_id");

-- CreateIndex
CREATE UNIQUE INDEX "invoices_number_key" ON "invoices"("number");

-- CreateIndex
CREATE INDEX "invoices_subscriber_id_idx" ON "invoices"("subscriber_id");

-- CreateIndex
CREATE INDEX "payments_subscriber_id_idx" ON "payments"("subscriber_id");

-- CreateIndex
CREATE INDEX "enforcement_outbox_status_next_attempt_at_idx" ON "enforcement_outbox"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "enforcement_outbox_subscriber_id_requested_at_idx" ON "enforcement_outbox"("subscriber_id", "requested_at");

-- CreateIndex
CREATE INDEX "audit_log_entity_type_entity_id_at_idx" ON "audit_log"("entity_type", "entity_id", "at");

-- CreateIndex
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");

-- AddForeignKey
ALTER TABLE "operators" ADD CONSTRAINT "operators_dealer_id_fkey" FOREIGN KEY ("dealer_id") REFERENCES "dealers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_dealer_id_fkey" FOREIGN KEY ("dealer_id") REFERENCES "dealers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscribers" ADD CONSTRAINT "subscribers_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "radius_sessions" ADD CONSTRAINT "radius_sessions_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "radius_sessions" ADD CONSTRAINT "radius_sessions_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_operator_id_fkey" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforcement_outbox" ADD CONSTRAINT "enforcement_outbox_subscriber_id_fkey" FOREIGN KEY ("subscriber_id") REFERENCES "subscribers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforcement_outbox" ADD CONSTRAINT "enforcement_outbox_router_id_fkey" FOREIGN KEY ("router_id") REFERENCES "routers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforcement_outbox" ADD CONSTRAINT "enforcement_outbox_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "operators"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_operator_id_fkey" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE SET NULL ON UPDATE CASCADE;
