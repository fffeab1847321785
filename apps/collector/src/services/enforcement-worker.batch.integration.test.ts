// The worker's batched path against a real PostgreSQL: several workers claiming batches at
// once never send one row twice, sends stay within inFlightMax, answers are recorded in
// batches (one audit row each), and a batch whose recording fails is recovered by the sweep.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { requestEnforcement } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { silentLogger } from "../log";
import type { EnforcementResultEvent } from "./live-hub";
import { createEnforcementWorker, type DisconnectAnswer, type DisconnectRequest, type EnforcementWorker } from "./enforcement-worker";

let db: TestDatabase;
let pool: pg.Pool;
let subs: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 400 });
  pool = new pg.Pool({ connectionString: db.url, max: 12 });
  const routerId = (await pool.query<{ id: number }>("SELECT id FROM routers ORDER BY id LIMIT 1")).rows[0]!.id;
  subs = (await pool.query<{ id: number }>("SELECT id FROM subscribers WHERE status <> 'terminated' ORDER BY id LIMIT 320")).rows.map((r) => r.id);
  // One active session each, its Acct-Session-Id naming the subscriber.
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, started_at, last_update_at)
     SELECT $1, 'B-' || id, id, pppoe_username, 'active', '10.8.0.1', now(), now() FROM subscribers WHERE id = ANY($2::int[])`,
    [routerId, subs],
  );
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function waitFor(fn: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function worker(send: (req: DisconnectRequest) => Promise<DisconnectAnswer>, events: EnforcementResultEvent[], config = {}): EnforcementWorker {
  return createEnforcementWorker({
    pool,
    databaseUrl: db.url,
    send,
    emit: (e) => events.push(e),
    log: silentLogger,
    config: { sweepIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 200, ...config },
  });
}

describe("enforcement worker, batched", () => {
  it("three workers claiming batches at once: every row sent exactly once, within inFlightMax, recorded in batches", async () => {
    const batch = subs.slice(0, 240);
    const sent = new Map<string, number>();
    // Per worker: sends running now and the most at once.
    const inFlight = [0, 0, 0];
    const inFlightPeak = [0, 0, 0];
    const sendFor =
      (w: number) =>
      async (req: DisconnectRequest): Promise<DisconnectAnswer> => {
        sent.set(req.acctSessionId ?? "?", (sent.get(req.acctSessionId ?? "?") ?? 0) + 1);
        inFlight[w]!++;
        inFlightPeak[w] = Math.max(inFlightPeak[w]!, inFlight[w]!);
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
        inFlight[w]!--;
        return { outcome: "ack", latencyMs: 3 };
      };
    const events: EnforcementResultEvent[] = [];
    // Half queued before any worker runs (so the first claims are full batches), half while they run.
    const ids: string[] = [];
    for (const id of batch.slice(0, 120)) ids.push((await requestEnforcement(db.prisma, { kind: "kick", subscriberId: id, operatorId: null, actor: "test" })).actionId);
    const workers = [0, 1, 2].map((i) => worker(sendFor(i), events, { inFlightMax: 16 }));
    await Promise.all(workers.map((w) => w.start()));
    try {
      const more = await Promise.all(batch.slice(120).map((id) => requestEnforcement(db.prisma, { kind: "kick", subscriberId: id, operatorId: null, actor: "test" })));
      ids.push(...more.map((m) => m.actionId));
      await waitFor(() => events.length >= batch.length);

      expect(sent.size).toBe(batch.length);
      expect([...sent.values()].every((n) => n === 1)).toBe(true);
      for (const peak of inFlightPeak) expect(peak).toBeLessThanOrEqual(16);
      expect(Math.max(...inFlightPeak)).toBeGreaterThan(1); // sends do overlap
      expect(new Set(events.map((e) => e.actionId)).size).toBe(batch.length);
      expect(events.every((e) => e.status === "acked" && e.path === "disconnect" && e.totalLatencyMs !== null)).toBe(true);

      const rows = await pool.query<{ status: string; attempts: number; n: number }>(
        "SELECT status::text, attempts, count(*)::int AS n FROM enforcement_outbox WHERE id = ANY($1::bigint[]) GROUP BY 1, 2",
        [ids],
      );
      expect(rows.rows).toEqual([{ status: "acked", attempts: 1, n: batch.length }]);
      const audit = await pool.query<{ n: number; d: number }>(
        "SELECT count(*)::int AS n, count(DISTINCT details->>'actionId')::int AS d FROM audit_log WHERE action = 'enforcement.acked' AND details->>'actionId' = ANY($1::text[])",
        [ids],
      );
      expect(audit.rows[0]).toEqual({ n: batch.length, d: batch.length });
      const latencies = await pool.query<{ missing: number }>(
        "SELECT count(*)::int AS missing FROM enforcement_outbox WHERE id = ANY($1::bigint[]) AND (total_latency_ms IS NULL OR completed_at IS NULL OR router_latency_ms <> 3)",
        [ids],
      );
      expect(latencies.rows[0]).toEqual({ missing: 0 });

      const claimed = workers.reduce((n, w) => n + w.counters.claimed, 0);
      expect(claimed).toBe(batch.length);
      expect(Math.max(...workers.map((w) => w.stats.claimRowsMax))).toBeGreaterThan(1);
      expect(Math.max(...workers.map((w) => w.stats.recordRowsMax))).toBeGreaterThan(1);
      expect(workers.reduce((n, w) => n + w.stats.records, 0)).toBeLessThan(batch.length);
      // Each of the two concurrent claims takes at most half of inFlightMax.
      for (const w of workers) expect(w.stats.claimRowsMax).toBeLessThanOrEqual(8);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it("a batch whose recording fails stays `sending` and is sent again after its lock expires", async () => {
    const batch = subs.slice(240, 260);
    // Every collector audit insert fails until the trigger is dropped: the whole batch
    // statement (results, audit rows) rolls back.
    await pool.query(`CREATE FUNCTION fail_collector_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.actor = 'collector' THEN RAISE EXCEPTION 'audit down'; END IF; RETURN NEW; END $$`);
    await pool.query("CREATE TRIGGER fail_collector_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_collector_audit()");
    const sent = new Map<string, number>();
    const events: EnforcementResultEvent[] = [];
    const w = worker(
      async (req) => {
        sent.set(req.acctSessionId ?? "?", (sent.get(req.acctSessionId ?? "?") ?? 0) + 1);
        return { outcome: "ack", latencyMs: 1 };
      },
      events,
      { lockMs: 400, inFlightMax: 8 },
    );
    const ids = (await Promise.all(batch.map((id) => requestEnforcement(db.prisma, { kind: "kick", subscriberId: id, operatorId: null, actor: "test" })))).map((r) => r.actionId);
    await w.start();
    try {
      await waitFor(() => w.counters.errors >= batch.length);
      expect(events).toHaveLength(0);
      const stuck = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE id = ANY($1::bigint[]) AND status = 'sending'", [ids]);
      expect(stuck.rows[0]!.n).toBe(batch.length);
      await pool.query("DROP TRIGGER fail_collector_audit ON audit_log");
      await waitFor(() => events.length >= batch.length);
      const rows = await pool.query<{ status: string; attempts: number; n: number }>(
        "SELECT status::text, attempts, count(*)::int AS n FROM enforcement_outbox WHERE id = ANY($1::bigint[]) GROUP BY 1, 2",
        [ids],
      );
      expect(rows.rows).toEqual([{ status: "acked", attempts: 2, n: batch.length }]);
      expect([...sent.values()].every((n) => n === 2)).toBe(true);
      expect(sent.size).toBe(batch.length);
    } finally {
      await w.stop();
      await pool.query("DROP TRIGGER IF EXISTS fail_collector_audit ON audit_log");
    }
  });
});
