// `npm run bench -- enforcement` (docs/enforcement.md): billing actions against a simulated
// router over real sockets. The collector runs in-process (RADIUS, enforcement worker),
// one RouterSimulator dials every subscriber, then:
//  - click to ACK: ENFORCEMENT_BENCH_BURST (1,000) change-plan actions issued back to back by
//    ENFORCEMENT_BENCH_CONCURRENCY (16) callers through requestEnforcement (all the tRPC
//    mutation `subscriber.act` does against the database for support/admin: one statement,
//    the scope check included), each timed from its call to its recorded CoA-ACK
//    (completed_at, set by the statement that records the answer); p50/p99.
//  - mass suspend: ENFORCEMENT_BENCH_MASS (10,000) subscribers suspended in one billing-run
//    transaction (status + outbox + audit rows), timed until every row is confirmed and the
//    router has no session left.
import pg from "pg";
import { createPrisma } from "@isp/db/client";
import { migrate } from "@isp/db/migrate";
import { requestEnforcement } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { RouterSimulator } from "@isp/network/simulator";
import { createCollector } from "../apps/collector/src/collector";
import { silentLogger } from "../apps/collector/src/log";
import { percentile, type BenchContext, type Figure } from "./lib";

const envInt = (name: string, d: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : d;
};

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export default async function enforcementBench(ctx: BenchContext): Promise<Figure[]> {
  const burst = envInt("ENFORCEMENT_BENCH_BURST", 1000);
  const mass = envInt("ENFORCEMENT_BENCH_MASS", 10_000);
  const total = Math.max(burst, mass);
  const concurrency = envInt("ENFORCEMENT_BENCH_CONCURRENCY", 16);
  const adminUrl = await ctx.databaseAdminUrl();
  const name = `isp_bench_enf_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const prisma = createPrisma(dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  // pool.end() resolves before its sockets have closed; the DROP ... WITH (FORCE) at the end
  // can then reach a closing client, whose error would otherwise be unhandled.
  pool.on("error", () => undefined);
  let collector: ReturnType<typeof createCollector> | null = null;
  let sim: RouterSimulator | null = null;
  try {
    await migrate(dbUrl, { flavour: "plain" });
    // The seed makes some subscribers suspended or terminated: a tenth more gives `total` active ones.
    await seed(prisma, { subscribers: Math.ceil(total * 1.1) });
    const routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.2'")).rows[0]!.id;
    const subs = (
      await pool.query<{ id: number; username: string; password: string }>(
        "SELECT id, pppoe_username AS username, pppoe_password AS password FROM subscribers WHERE status = 'active' ORDER BY id LIMIT $1",
        [total],
      )
    ).rows;
    ctx.log(`${subs.length} active subscribers seeded`);
    collector = createCollector({
      databaseUrl: dbUrl,
      radiusHost: "127.0.0.1",
      authPort: 0,
      acctPort: 0,
      liveHost: "127.0.0.1",
      livePort: 0,
      liveCorsOrigin: "http://localhost:3000",
      authSecret: "enforcement-bench-secret-0123456789",
      acctInterimIntervalS: 3600,
      reconcile: null,
      enforcement: { inFlightMax: 256 },
      coa: { inFlightMax: 256 },
      log: silentLogger,
    });
    await collector.start();
    sim = new RouterSimulator({
      nasIp: "127.0.0.2",
      secret: "demo-secret-2026",
      serverHost: "127.0.0.1",
      authPort: collector.ports.auth,
      acctPort: collector.ports.acct,
      coaPort: 0,
      subscribers: subs.map((s) => ({ username: s.username, password: s.password })),
      interimIntervalMs: 3_600_000,
      connectPerSecond: 2000,
      seed: 1,
    });
    await sim.start();
    await pool.query("UPDATE routers SET coa_port = $1 WHERE id = $2", [sim.coaBoundPort(), routerId]);
    const s = sim;
    await waitFor("every session online", async () => {
      const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active' AND router_id = $1", [routerId]);
      return r.rows[0]!.n >= subs.length && s.sessions().length >= subs.length;
    }, 600_000);
    ctx.log(`${subs.length} sessions online`);

    // Click to ACK.
    const plans = (await pool.query<{ id: number }>("SELECT id FROM plans WHERE active ORDER BY id")).rows.map((p) => p.id);
    const started = new Map<string, number>();
    const burstSubs = subs.slice(0, burst);
    const requestDurations: number[] = [];
    const tBurst = Date.now();
    // Issued as fast as `concurrency` callers can (a web app's database pool is bounded
    // too); each action is timed from its own call.
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < burstSubs.length; i = next++) {
          const t0 = Date.now();
          const { actionId } = await requestEnforcement(prisma, { kind: "change_plan", subscriberId: burstSubs[i]!.id, planId: plans[i % plans.length]!, operatorId: null, actor: "bench" });
          started.set(actionId, t0);
          requestDurations.push(Date.now() - t0);
        }
      }),
    );
    const issueS = (Date.now() - tBurst) / 1000;
    await waitFor("burst confirmed", async () => {
      const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE kind = 'change_plan' AND completed_at IS NOT NULL");
      return r.rows[0]!.n >= burst;
    }, 120_000);
    const rows = (
      await pool.query<{ id: string; status: string; done_ms: string }>(
        "SELECT id::text, status::text, (extract(epoch FROM completed_at) * 1000)::text AS done_ms FROM enforcement_outbox WHERE kind = 'change_plan'",
      )
    ).rows;
    const latencies = rows.map((r) => Number(r.done_ms) - (started.get(r.id) ?? tBurst));
    // The split: the request's transaction vs commit to ACK (the worker and the router).
    const requestMs = [...requestDurations];
    const commitToAck = (
      await pool.query<{ ms: number }>("SELECT (extract(epoch FROM completed_at - requested_at) * 1000)::int AS ms FROM enforcement_outbox WHERE kind = 'change_plan'")
    ).rows.map((r) => r.ms);
    const burstAcked = rows.filter((r) => r.status === "acked").length;
    ctx.log(`burst: ${burstAcked}/${burst} acked, issued at ${Math.round(burst / issueS)}/s`);
    ctx.log(
      `click to recorded ACK p50/p99/max ${percentile(latencies, 50)}/${percentile(latencies, 99)}/${Math.max(...latencies)} ms; ` +
        `request p50/p99 ${percentile(requestDurations, 50)}/${percentile(requestDurations, 99)} ms; ` +
        `requested to recorded p50/p99 ${percentile(commitToAck, 50)}/${percentile(commitToAck, 99)} ms`,
    );
    // Where the worker's time went (its own samples, this burst only).
    const w = collector.internals.enforcement!;
    const sm = w.stats.samples;
    const ws = {
      ...w.stats,
      samples: { queuedMs: [...sm.queuedMs], claimMs: [...sm.claimMs], sendMs: [...sm.sendMs], recordMs: [...sm.recordMs], recordStatementMs: [...sm.recordStatementMs] },
    };
    const q = (xs: number[], p: number) => Math.round(percentile(xs, p));
    ctx.log(
      `worker: ${ws.claims} claims (largest ${ws.claimRowsMax} rows, statement p50 ${q(ws.samples.claimMs, 50)} / p99 ${q(ws.samples.claimMs, 99)} ms), ` +
        `${ws.records} record statements (largest ${ws.recordRowsMax} rows, statement p50 ${q(ws.samples.recordStatementMs, 50)} / p99 ${q(ws.samples.recordStatementMs, 99)} ms)`,
    );
    ctx.log(
      `per action p50/p99 ms: requested->claimed ${q(ws.samples.queuedMs, 50)}/${q(ws.samples.queuedMs, 99)}, ` +
        `CoA round trip ${q(ws.samples.sendMs, 50)}/${q(ws.samples.sendMs, 99)}, answer->recorded ${q(ws.samples.recordMs, 50)}/${q(ws.samples.recordMs, 99)}`,
    );

    // Mass suspend after a billing run: one transaction, then the worker carries it out.
    const massIds = subs.slice(0, mass).map((x) => x.id);
    const massN = massIds.length;
    const tMass = Date.now();
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("UPDATE subscribers SET status = 'suspended' WHERE id = ANY($1::int[])", [massIds]);
      await c.query(
        `WITH ins AS (
           INSERT INTO enforcement_outbox (kind, subscriber_id, router_id, acct_session_id, reason)
           SELECT 'suspend', sub.id, s.router_id, s.acct_session_id, 'billing run: unpaid'
             FROM subscribers sub LEFT JOIN LATERAL (
               SELECT router_id, acct_session_id FROM radius_sessions WHERE subscriber_id = sub.id AND status = 'active' ORDER BY started_at DESC LIMIT 1) s ON true
            WHERE sub.id = ANY($1::int[])
           RETURNING id, subscriber_id)
         INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
         SELECT 'billing', 'subscriber.suspend', 'subscriber', subscriber_id::text, jsonb_build_object('actionId', id::text) FROM ins`,
        [massIds],
      );
      await c.query("SELECT pg_notify('enforcement', 'mass')");
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    await waitFor("mass suspend confirmed", async () => {
      const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE kind = 'suspend' AND completed_at IS NOT NULL");
      return r.rows[0]!.n >= massN;
    }, 600_000);
    const massS = (Date.now() - tMass) / 1000;
    const confirmed = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE kind = 'suspend' AND status = 'acked'")).rows[0]!.n;
    const massNames = new Set(subs.slice(0, mass).map((m) => m.username));
    const stillOnline = s.sessions().filter((x) => massNames.has(x.username)).length;
    ctx.log(`mass suspend: ${confirmed}/${massN} acked in ${massS.toFixed(1)} s; ${stillOnline} still online on the router`);
    ctx.log(
      `mass suspend worker: ${w.stats.claims - ws.claims} claims (largest ${w.stats.claimRowsMax} rows), ${w.stats.records - ws.records} record statements (largest ${w.stats.recordRowsMax} rows)`,
    );

    return [
      { key: "burst_actions", value: burst, unit: "" },
      { key: "burst_acked", value: burstAcked, unit: "" },
      { key: "burst_issue_per_s", value: Math.round(burst / issueS), unit: "/s" },
      { key: "click_to_ack_p50_ms", value: percentile(latencies, 50), unit: "ms" },
      { key: "click_to_ack_p99_ms", value: percentile(latencies, 99), unit: "ms" },
      { key: "click_to_ack_max_ms", value: Math.max(...latencies), unit: "ms" },
      { key: "request_tx_p50_ms", value: percentile(requestMs, 50), unit: "ms" },
      { key: "request_tx_p99_ms", value: percentile(requestMs, 99), unit: "ms" },
      { key: "requested_to_ack_p50_ms", value: percentile(commitToAck, 50), unit: "ms" },
      { key: "requested_to_ack_p99_ms", value: percentile(commitToAck, 99), unit: "ms" },
      { key: "worker_requested_to_claimed_p99_ms", value: Math.round(percentile(ws.samples.queuedMs, 99)), unit: "ms" },
      { key: "worker_coa_round_trip_p99_ms", value: Math.round(percentile(ws.samples.sendMs, 99)), unit: "ms" },
      { key: "worker_answer_to_recorded_p99_ms", value: Math.round(percentile(ws.samples.recordMs, 99)), unit: "ms" },
      { key: "worker_claim_statements", value: ws.claims, unit: "" },
      { key: "worker_record_statements", value: ws.records, unit: "" },
      { key: "mass_suspend_subscribers", value: massN, unit: "" },
      { key: "mass_suspend_confirmed", value: confirmed, unit: "" },
      { key: "mass_suspend_still_online", value: stillOnline, unit: "" },
      { key: "mass_suspend_duration_s", value: Math.round(massS * 100) / 100, unit: "s" },
      { key: "mass_suspend_per_s", value: Math.round(massN / massS), unit: "/s" },
    ];
  } finally {
    await sim?.stop({ sendStops: false }).catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    await pool.end();
    await prisma.$disconnect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
