// The billing and dunning runs against PostgreSQL: seed N subscribers (default 100,000;
// BILLING_BENCH_SUBSCRIBERS to change), bill a month, bill it again (must create nothing),
// run dunning 11 days after the due date (everyone unpaid: one suspend each, plus the
// reminders the catch-up rule keeps), and run it again (must emit nothing).
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import pg from "pg";
import { createPrisma } from "@isp/db/client";
import { migrate } from "@isp/db/migrate";
import { seed } from "@isp/db/seed";
import { runBilling } from "../apps/collector/src/billing/billing-run";
import { runDunning } from "../apps/collector/src/billing/dunning-run";
import type { BenchContext, Figure } from "./lib";

const subscribers = Number(process.env.BILLING_BENCH_SUBSCRIBERS ?? 100_000);
const seedBase = 1000;
const round = (s: number): number => Math.round(s * 100) / 100;

export default async function billingBench(ctx: BenchContext): Promise<Figure[]> {
  const adminUrl = await ctx.databaseAdminUrl();
  const name = `billing_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on("error", () => undefined);
  const loadAtStart = loadavg()[0]!;
  try {
    await migrate(url.toString(), { flavour: "plain" });
    const prisma = createPrisma(url.toString());
    let t = performance.now();
    try {
      await seed(prisma, { subscribers: Math.min(subscribers, seedBase) });
    } finally {
      await prisma.$disconnect();
    }
    // Activated months before the billed month (full-month invoices, no first-invoice proration).
    await pool.query(`UPDATE subscribers SET created_at = '2026-06-15T10:00:00+05'`);
    // The seed writes through Prisma (minutes at 100k); the rest are copies of the seeded
    // subscribers (same plans, cities and statuses mix) inserted in one statement.
    await pool.query(
      `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, dealer_id, plan_id, status, pppoe_username, pppoe_password, created_at)
       SELECT s.account_no || '-' || g, s.name, s.phone, s.cnic, s.address, s.city, s.dealer_id, s.plan_id, s.status, s.pppoe_username || '-' || g, s.pppoe_password, s.created_at
       FROM generate_series(1, $1::int) g CROSS JOIN subscribers s ORDER BY g, s.id LIMIT $2`,
      [Math.ceil(subscribers / seedBase), Math.max(0, subscribers - seedBase)],
    );
    ctx.log(`seeded ${subscribers} subscribers in ${round((performance.now() - t) / 1000)} s; load average ${loadAtStart.toFixed(1)}`);
    await pool.query("ANALYZE");

    const first = await runBilling(pool, { periodStart: "2026-12-01" });
    ctx.log(`billing run: ${first.created} invoices for ${first.processed} billable subscribers in ${round(first.seconds)} s`);
    const rerun = await runBilling(pool, { periodStart: "2026-12-01" });
    ctx.log(`billing re-run: ${rerun.created} created in ${round(rerun.seconds)} s`);
    await pool.query("ANALYZE");

    const now = new Date("2026-12-22T06:00:00Z");
    t = performance.now();
    const d1 = await runDunning(pool, { now });
    const dunningS = (performance.now() - t) / 1000;
    ctx.log(`dunning run: ${d1.evaluated} evaluated, ${d1.actions} actions (${d1.enforcement} enforcement, ${d1.notifications} notifications) in ${round(dunningS)} s (load ${round(d1.stages.load)}, evaluate ${round(d1.stages.evaluate)}, write ${round(d1.stages.write)})`);
    const d2 = await runDunning(pool, { now });
    ctx.log(`dunning re-run: ${d2.actions} actions in ${round(d2.seconds)} s`);
    const unbalanced = await pool.query(`SELECT 1 FROM ledger_entries GROUP BY transaction_id HAVING sum(amount_paisa) <> 0 LIMIT 1`);
    if (unbalanced.rowCount !== 0) throw new Error("an unbalanced ledger transaction was stored");
    ctx.log(`load average at end ${loadavg()[0]!.toFixed(1)} (2 shared cores)`);
    return [
      { key: "billing_subscribers", value: first.processed, unit: "" },
      { key: `billing_run_${subscribers / 1000}k_s`, value: round(first.seconds), unit: "s" },
      { key: `billing_rerun_${subscribers / 1000}k_s`, value: round(rerun.seconds), unit: "s" },
      { key: "billing_rerun_created", value: rerun.created, unit: "" },
      { key: `dunning_run_${subscribers / 1000}k_s`, value: round(dunningS), unit: "s" },
      { key: "dunning_actions", value: d1.actions, unit: "" },
      // Summed over the parallel slices (so they add up to more than the wall time).
      { key: "dunning_stage_load_s", value: round(d1.stages.load), unit: "s" },
      { key: "dunning_stage_evaluate_s", value: round(d1.stages.evaluate), unit: "s" },
      { key: "dunning_stage_write_s", value: round(d1.stages.write), unit: "s" },
      { key: `dunning_rerun_${subscribers / 1000}k_s`, value: round(d2.seconds), unit: "s" },
      { key: "dunning_rerun_actions", value: d2.actions, unit: "" },
      { key: "machine_load_avg_1m_start", value: Math.round(loadAtStart * 10) / 10, unit: "" },
      { key: "machine_load_avg_1m", value: Math.round(loadavg()[0]! * 10) / 10, unit: "" },
    ];
  } finally {
    await pool.end().catch(() => undefined);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
    await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    await admin.end();
  }
}
