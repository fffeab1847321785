-- On-demand billing/dunning runs: the web app inserts a billing_runs row with status
-- 'requested' and NOTIFYs billing_run_requested; the collector's scheduler turns it
-- into a pg-boss job, and startOrResumeRun picks the row up as the run itself.
ALTER TYPE "billing_run_status" ADD VALUE IF NOT EXISTS 'requested' BEFORE 'running';

-- AlterTable
ALTER TABLE "billing_runs" ADD COLUMN "requested_by" TEXT;
