-- Enforcement paths (issue 4): the billing actions the outbox carries, how a router can be
-- reached besides RADIUS CoA (RouterOS API or REST), and what each action's answer was
-- (which path, the adapter's error code, whether NOC staff were alerted).
-- ADD VALUE runs inside the migration's transaction (PostgreSQL 12+); nothing here uses
-- the new values before COMMIT.

-- AlterEnum
ALTER TYPE "enforcement_kind" ADD VALUE 'suspend';
ALTER TYPE "enforcement_kind" ADD VALUE 'restore';
ALTER TYPE "enforcement_kind" ADD VALUE 'change_plan';
ALTER TYPE "enforcement_kind" ADD VALUE 'kick';
ALTER TYPE "enforcement_kind" ADD VALUE 'throttle';
ALTER TYPE "enforcement_kind" ADD VALUE 'walled_garden_on';
ALTER TYPE "enforcement_kind" ADD VALUE 'walled_garden_off';
ALTER TYPE "enforcement_kind" ADD VALUE 'terminate';

-- CreateEnum
CREATE TYPE "router_api_kind" AS ENUM ('none', 'api', 'rest');

-- CreateEnum
CREATE TYPE "enforcement_path" AS ENUM ('coa', 'disconnect', 'api', 'rest');

-- AlterTable
ALTER TABLE "routers" ADD COLUMN "api_kind" "router_api_kind" NOT NULL DEFAULT 'none',
ADD COLUMN "rest_url" TEXT;

-- AlterTable
ALTER TABLE "enforcement_outbox" ADD COLUMN "path" "enforcement_path",
ADD COLUMN "error_code" TEXT,
ADD COLUMN "escalated" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "params" JSONB;
