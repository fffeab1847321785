import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log";
import { type BillingProgressEvent, type BillingScheduler, createBillingScheduler, requestChannel } from "./scheduler";

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("billing scheduler (pg-boss) on PostgreSQL", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let scheduler: BillingScheduler;
  const events: BillingProgressEvent[] = [];
  const q = async <T extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, args)).rows;
  // What the web app does (billing.requestRun): one row per open request, then NOTIFY.
  const request = async (kind: string, period: string) => {
    await pool.query(
      `INSERT INTO billing_runs (kind, period_start, status, requested_by) VALUES ($1, $2, 'requested', 'test') ON CONFLICT DO NOTHING`,
      [kind, period],
    );
    await pool.query(`SELECT pg_notify($1, $2)`, [requestChannel, kind]);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.prisma, { subscribers: 120 });
    pool = new pg.Pool({ connectionString: db.url, max: 6 });
    pool.on("error", () => undefined);
    scheduler = createBillingScheduler({
      pool,
      log: createLogger("warn"),
      emit: (e) => events.push(e),
      config: { databaseUrl: db.url, billingCron: "0 2 1 * *", dunningCron: null, pollingIntervalS: 0.5, billing: { chunkSize: 25 } },
    });
    await scheduler.start();
  });
  afterAll(async () => {
    await scheduler?.stop(5000);
    await pool?.end();
    await db?.drop();
  });

  it("runs a billing period requested twice exactly once and reports progress", async () => {
    await Promise.all([request("billing", "2026-11-01"), request("billing", "2026-11-01")]);
    // Sweeps racing the NOTIFY-triggered ones send nothing more (singleton key / taken row).
    await Promise.all([scheduler.sweepRequests(), scheduler.sweepRequests()]);
    await until("the run to complete", async () => (await q(`SELECT 1 FROM billing_runs WHERE kind = 'billing' AND status = 'completed'`)).length > 0);
    await until("no open request", async () => (await q(`SELECT 1 FROM billing_runs WHERE status IN ('requested', 'running')`)).length === 0);

    const runs = await q<{ id: string; status: string; processed: number; created: number; requested_by: string | null }>(
      `SELECT id::text, status::text, processed, created, requested_by FROM billing_runs WHERE kind = 'billing'`,
    );
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run?.requested_by).toBe("test");
    expect(run?.created).toBeGreaterThan(50);
    const [inv] = await q<{ n: number; subs: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT subscriber_id)::int AS subs FROM invoices WHERE period_start = '2026-11-01'`,
    );
    expect(inv).toEqual({ n: run?.created, subs: run?.created });

    const mine = events.filter((e) => e.kind === "billing" && e.runId === run?.id);
    expect(mine.length).toBeGreaterThan(2);
    expect(mine.at(-1)).toMatchObject({ status: "completed", done: run?.processed, total: run?.processed });
    expect(mine.slice(0, -1).every((e) => e.status === "running")).toBe(true);
    const done = mine.map((e) => e.done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
  });

  it("runs a requested dunning run and registers the cron schedule", async () => {
    const [today] = await q<{ d: string }>(`SELECT to_char((now() AT TIME ZONE 'Asia/Karachi')::date, 'YYYY-MM-DD') AS d`);
    await request("dunning", today!.d);
    await until("the dunning run", async () => (await q(`SELECT 1 FROM billing_runs WHERE kind = 'dunning' AND status = 'completed'`)).length === 1);
    expect(events.some((e) => e.kind === "dunning" && e.status === "completed")).toBe(true);
    const schedules = await q<{ name: string; cron: string; timezone: string }>(`SELECT name, cron, timezone FROM pgboss.schedule ORDER BY name`);
    // The proration pass (plan changes, terminations) runs every 5 minutes by default.
    expect(schedules).toEqual([
      { name: "billing-adjustments", cron: "*/5 * * * *", timezone: "Asia/Karachi" },
      { name: "billing-run", cron: "0 2 1 * *", timezone: "Asia/Karachi" },
    ]);
  });
});
