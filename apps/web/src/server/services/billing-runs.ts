import "server-only";
import { businessDate, formatDate } from "@isp/billing/cycles";
import type { createPrisma } from "@isp/db/client";

type PrismaClient = ReturnType<typeof createPrisma>;

// On-demand billing/dunning runs. The web app cannot import the collector: it writes a
// billing_runs row with status 'requested' and NOTIFYs; the collector's scheduler queues
// the pg-boss job and the run takes the row over (docs/billing-runs.md). One open request
// per (kind, period) (unique partial index): asking twice returns the same row.
export const billingRequestChannel = "billing_run_requested";
export type RunKind = "billing" | "dunning";

export class InvalidRunRequestError extends Error {
  override name = "InvalidRunRequestError";
}

export interface RunRequestActor {
  id: number;
  username: string;
  role: string;
}

/** The period a request names: billing a month start not after this month; dunning always today (Karachi). */
export function requestPeriod(kind: RunKind, period: string | undefined, now = new Date()): string {
  const today = formatDate(businessDate(now));
  const thisMonth = `${today.slice(0, 8)}01`;
  if (kind === "dunning") {
    if (period !== undefined && period !== today) throw new InvalidRunRequestError(`a dunning run is for today (${today}) only`);
    return today;
  }
  if (period === undefined) return thisMonth;
  if (!/^\d{4}-(0[1-9]|1[0-2])-01$/.test(period)) throw new InvalidRunRequestError("a billing period is the first day of a month (YYYY-MM-01)");
  if (period > thisMonth) throw new InvalidRunRequestError(`${period} is in the future`);
  return period;
}

export async function requestRun(
  prisma: PrismaClient,
  actor: RunRequestActor,
  input: { kind: RunKind; period?: string },
): Promise<{ runId: string; period: string; alreadyRequested: boolean }> {
  const period = requestPeriod(input.kind, input.period);
  return prisma.$transaction(async (tx) => {
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO billing_runs (kind, period_start, status, requested_by)
      VALUES (${input.kind}, ${period}::date, 'requested', ${actor.username})
      ON CONFLICT DO NOTHING RETURNING id::text AS id`;
    const existing = inserted[0]
      ? null
      : await tx.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM billing_runs WHERE kind = ${input.kind} AND period_start = ${period}::date AND status = 'requested'`;
    const runId = inserted[0]?.id ?? existing?.[0]?.id;
    if (!runId) throw new Error("billing run request neither inserted nor found");
    await tx.auditLog.create({
      data: {
        operatorId: actor.id,
        actor: actor.username,
        action: `billing.request_${input.kind}`,
        entityType: "billing_run",
        entityId: runId,
        details: { kind: input.kind, period, role: actor.role, alreadyRequested: !inserted[0] },
      },
    });
    await tx.$executeRaw`SELECT pg_notify(${billingRequestChannel}, ${input.kind})`;
    return { runId, period, alreadyRequested: !inserted[0] };
  });
}

export interface RunRow {
  id: string;
  kind: string;
  period: string;
  status: string;
  processed: number;
  created: number;
  requestedBy: string | null;
  startedAt: string;
  seconds: number | null;
  error: string | null;
}

export async function recentRuns(prisma: PrismaClient, limit = 20): Promise<RunRow[]> {
  const rows = await prisma.$queryRaw<RunRow[]>`
    SELECT id::text AS id, kind, to_char(period_start, 'YYYY-MM-DD') AS period, status::text AS status, processed, created,
           requested_by AS "requestedBy", to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "startedAt",
           CASE WHEN finished_at IS NULL THEN NULL ELSE round(extract(epoch FROM finished_at - started_at)::numeric, 1)::float8 END AS seconds,
           error
    FROM billing_runs ORDER BY id DESC LIMIT ${Math.max(1, Math.min(100, limit))}`;
  return rows;
}
