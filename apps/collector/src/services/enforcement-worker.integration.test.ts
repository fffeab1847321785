// The outbox worker against a real PostgreSQL, with the router side replaced by a
// scripted sender (the real UDP path is in collector.integration.test.ts).
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
let routerId: number;
const subs: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 30 });
  pool = new pg.Pool({ connectionString: db.url, max: 6 });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers ORDER BY id LIMIT 1")).rows[0]!.id;
  for (const r of (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id LIMIT 10")).rows) subs.push(r.id);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function openSession(subscriberId: number, acctSessionId: string): Promise<void> {
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, started_at, last_update_at)
     SELECT $1, $2, id, pppoe_username, 'active', '10.9.0.1', now(), now() FROM subscribers WHERE id = $3`,
    [routerId, acctSessionId, subscriberId],
  );
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

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const row = async (id: string) =>
  (await pool.query("SELECT status::text, attempts, router_latency_ms, total_latency_ms, error_cause, last_error, completed_at FROM enforcement_outbox WHERE id = $1", [id])).rows[0] as
    | { status: string; attempts: number; router_latency_ms: number | null; total_latency_ms: number | null; error_cause: number | null; last_error: string | null; completed_at: Date | null }
    | undefined;

describe("enforcement worker", () => {
  it("NOTIFY -> Disconnect with the session's attributes -> acked with latencies, audit row and live event", async () => {
    const events: EnforcementResultEvent[] = [];
    const sent: DisconnectRequest[] = [];
    const w = worker(async (req) => {
      sent.push(req);
      return { outcome: "ack", latencyMs: 4 };
    }, events);
    await w.start();
    try {
      await openSession(subs[0]!, "A-1");
      const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: subs[0]!, operatorId: null, actor: "test", reason: "t" });
      const done = await waitFor(async () => ((await row(actionId))?.status === "acked" ? row(actionId) : null));
      expect(done).toMatchObject({ attempts: 1, router_latency_ms: 4 });
      expect(done!.total_latency_ms).toBeGreaterThanOrEqual(0);
      expect(sent[0]).toMatchObject({ host: "127.0.0.1", port: 3799, secret: "demo-secret-2026", acctSessionId: "A-1", framedIp: "10.9.0.1", nasIpAddress: "127.0.0.1" });
      expect(events).toEqual([expect.objectContaining({ actionId, subscriberId: subs[0], status: "acked", routerLatencyMs: 4 })]);
      const audit = await pool.query("SELECT actor, action FROM audit_log WHERE entity_id = $1 AND actor = 'collector'", [String(subs[0])]);
      expect(audit.rows).toEqual([{ actor: "collector", action: "enforcement.acked" }]);
    } finally {
      await w.stop();
    }
  });

  it("NAK 503 counts as done and stops our stale session; no session -> failed", async () => {
    const events: EnforcementResultEvent[] = [];
    const w = worker(async () => ({ outcome: "nak", errorCause: 503, latencyMs: 2 }), events);
    await w.start();
    try {
      await openSession(subs[1]!, "GONE-1");
      const a = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: subs[1]!, operatorId: null, actor: "test" });
      const b = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: subs[2]!, operatorId: null, actor: "test" });
      await waitFor(async () => events.length >= 2);
      expect(await row(a.actionId)).toMatchObject({ status: "nak", error_cause: 503 });
      expect(await row(b.actionId)).toMatchObject({ status: "failed", last_error: "no active session" });
      const s = await pool.query("SELECT status::text FROM radius_sessions WHERE acct_session_id = 'GONE-1'");
      expect(s.rows[0]).toEqual({ status: "stopped" });
    } finally {
      await w.stop();
    }
  });

  it("timeouts retry with backoff up to max_attempts, then `timeout`", async () => {
    const events: EnforcementResultEvent[] = [];
    let calls = 0;
    const w = worker(async () => {
      calls++;
      return { outcome: "timeout", latencyMs: 0 };
    }, events);
    await openSession(subs[3]!, "T-1");
    const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: subs[3]!, operatorId: null, actor: "test" });
    await pool.query("UPDATE enforcement_outbox SET max_attempts = 3 WHERE id = $1", [actionId]);
    await w.start();
    try {
      await waitFor(async () => events.length >= 1);
      expect(calls).toBe(3);
      expect(await row(actionId)).toMatchObject({ status: "timeout", attempts: 3 });
      const retries = await pool.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'enforcement.retry' AND entity_id = $1", [String(subs[3])]);
      expect(retries.rows[0]).toEqual({ n: 2 });
    } finally {
      await w.stop();
    }
  });

  it("two workers never send the same row; a crashed worker's row is recovered after its lock expires", async () => {
    const sentIds: string[] = [];
    const events: EnforcementResultEvent[] = [];
    const send = async (req: DisconnectRequest): Promise<DisconnectAnswer> => {
      sentIds.push(req.acctSessionId ?? "");
      await new Promise((r) => setTimeout(r, 20));
      return { outcome: "ack", latencyMs: 1 };
    };
    const ids: string[] = [];
    for (let i = 4; i < 10; i++) {
      await openSession(subs[i]!, `P-${i}`);
      ids.push((await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: subs[i]!, operatorId: null, actor: "test" })).actionId);
    }
    // A row a dead worker left in `sending` with an expired lock.
    await pool.query("UPDATE enforcement_outbox SET status = 'sending', attempts = 1, locked_until = now() - interval '1 second' WHERE id = $1", [ids[0]]);
    const w1 = worker(send, events, { inFlightMax: 2 });
    const w2 = worker(send, events, { inFlightMax: 2 });
    await Promise.all([w1.start(), w2.start()]);
    try {
      await waitFor(async () => events.length >= ids.length);
      expect(new Set(sentIds).size).toBe(sentIds.length);
      expect(sentIds).toHaveLength(ids.length);
      for (const id of ids) expect((await row(id))!.status).toBe("acked");
      expect((await row(ids[0]!))!.attempts).toBe(2);
    } finally {
      await Promise.all([w1.stop(), w2.stop()]);
    }
  });
});
