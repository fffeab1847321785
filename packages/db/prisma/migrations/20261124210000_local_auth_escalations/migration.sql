-- Local authentication and the NOC's escalation queue (issue 4): routers that check PPPoE
-- logins against their own /ppp/secret instead of RADIUS (the collector keeps those
-- secrets in step with billing), the RouterOS profile a plan maps to there, and who
-- handled an escalated enforcement action.

-- CreateEnum
CREATE TYPE "router_auth_mode" AS ENUM ('radius', 'local');

-- AlterTable
ALTER TABLE "routers" ADD COLUMN "auth_mode" "router_auth_mode" NOT NULL DEFAULT 'radius';

-- AlterTable
ALTER TABLE "plans" ADD COLUMN "ppp_profile" TEXT;

-- AlterTable
ALTER TABLE "enforcement_outbox" ADD COLUMN "escalation_acked_at" TIMESTAMPTZ(3),
ADD COLUMN "escalation_acked_by" TEXT;

-- The NOC's open escalations (escalated, not yet acknowledged), newest first; partial, so
-- it stays small however long the outbox grows. Not expressible in schema.prisma.
CREATE INDEX "enforcement_outbox_open_escalations_idx" ON "enforcement_outbox"("completed_at" DESC) WHERE "escalated" AND "escalation_acked_at" IS NULL;
