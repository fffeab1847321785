// Fair usage end to end on loopback: a RouterSimulator dials two subscribers on a FUP plan
// into the collector; one crosses the quota, the collector's FUP pass requests a throttle,
// its enforcement worker sends the CoA and the simulated session's rate drops to the FUP
// rate while the other keeps the plan's. Then "a month later" (the rows' timestamps moved
// back one month) a restarted enforcer gives the plan rate back over CoA.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouterSimulator } from "@isp/network/simulator";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import { createFupEnforcer } from "./services/fup-enforcer";
import { loopbackEndpoints } from "./test-collector";

const secret = "demo-secret-2026";
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
let sim: RouterSimulator;
let routerId: number;
let planId: number;
let subs: { id: number; username: string; password: string }[] = [];

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const simSession = (username: string) => sim.sessions().find((s) => s.username === username);

const answered = (id: number, kind: string) =>
  waitFor(`${kind} for ${id} answered`, async () => {
    const r = await pool.query<{ id: string; status: string; path: string | null; reason: string; params: unknown }>(
      `SELECT id::text, status::text, path::text, reason, params FROM enforcement_outbox
        WHERE subscriber_id = $1 AND kind = $2 AND reason LIKE 'fair-usage%' AND completed_at IS NOT NULL ORDER BY id DESC LIMIT 1`,
      [id, kind],
    );
    return r.rows[0];
  });

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.2'")).rows[0]!.id;
  planId = (
    await pool.query<{ id: number }>(
      `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, fup_quota_bytes, fup_download_kbps, fup_upload_kbps)
       VALUES ('FUP-100', 'FUP 100 GB', 20000, 10000, 250000, 100000000000, 2000, 1000) RETURNING id`,
    )
  ).rows[0]!.id;
  subs = (
    await pool.query<{ id: number; username: string; password: string }>(
      "SELECT id, pppoe_username AS username, pppoe_password AS password FROM subscribers WHERE status = 'active' ORDER BY id LIMIT 2",
    )
  ).rows;
  await pool.query("UPDATE subscribers SET plan_id = $1, expires_at = NULL WHERE id = ANY($2)", [planId, subs.map((s) => s.id)]);
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "collector-fup-test-secret-0123456789",
    acctInterimIntervalS: 60,
    enforcement: { sweepIntervalMs: 200, backoffBaseMs: 100, backoffMaxMs: 200 },
    reconcile: { intervalMs: 3_600_000 },
    coa: { timeoutMs: 250, retries: 1 },
    log: silentLogger,
  });
  await collector.start();
  sim = new RouterSimulator({
    nasIp: "127.0.0.2",
    secret,
    serverHost: "127.0.0.1",
    authPort: collector.ports.auth,
    acctPort: collector.ports.acct,
    coaPort: 0,
    subscribers: subs.map((s) => ({ username: s.username, password: s.password })),
    interimIntervalMs: 60_000,
    connectPerSecond: 50,
    seed: 11,
  });
  await sim.start();
  await pool.query("UPDATE routers SET coa_port = $2 WHERE id = $1", [routerId, sim.coaBoundPort()]);
  await waitFor("both sessions in the database", async () => {
    const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active' AND router_id = $1", [routerId]);
    return r.rows[0]!.n === 2;
  });
}, 60_000);

afterAll(async () => {
  await sim?.stop({ sendStops: false });
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

describe("fair usage on the router", () => {
  it("crossing the quota: CoA with the FUP rate to that session only; a new month: the plan rate back over CoA, once", async () => {
    const [a, b] = [subs[0]!, subs[1]!];
    expect(simSession(a.username)).toMatchObject({ downloadKbps: 20_000, uploadKbps: 10_000 });
    expect(simSession(b.username)).toMatchObject({ downloadKbps: 20_000, uploadKbps: 10_000 });
    await pool.query("INSERT INTO subscriber_usage (time, subscriber_id, router_id, input_octets, output_octets) VALUES (now(), $1, $2, 5000000000, 96000000000)", [
      a.id,
      routerId,
    ]);
    await pool.query("INSERT INTO subscriber_usage (time, subscriber_id, router_id, input_octets, output_octets) VALUES (now(), $1, $2, 1000000000, 90000000000)", [
      b.id,
      routerId,
    ]);

    // What the collector's 60 s "fair-usage counters" job does.
    const usage = collector.internals.usage!;
    const fup = collector.internals.fup!;
    await usage.refresh();
    expect(await fup.run()).toMatchObject({ throttled: 1, errors: 0 });
    const throttle = await answered(a.id, "throttle");
    expect(throttle).toMatchObject({ status: "acked", path: "coa", reason: "fair-usage quota 100 GB passed (101 GB this month)", params: { downloadKbps: 2000, uploadKbps: 1000 } });
    expect(simSession(a.username)).toMatchObject({ downloadKbps: 2000, uploadKbps: 1000 });
    expect(simSession(b.username)).toMatchObject({ downloadKbps: 20_000, uploadKbps: 10_000 });
    await usage.refresh();
    expect(await fup.run()).toMatchObject({ throttled: 0 });

    // A month later for `a`: its usage, session start and the FUP's audit row are last month's.
    await pool.query("UPDATE audit_log SET at = at - interval '1 month' WHERE entity_type = 'subscriber' AND entity_id = $1", [String(a.id)]);
    await pool.query("UPDATE radius_sessions SET started_at = started_at - interval '1 month' WHERE subscriber_id = $1", [a.id]);
    await pool.query("UPDATE subscriber_usage SET time = time - interval '1 month' WHERE subscriber_id = $1", [a.id]);
    const restarted = createFupEnforcer({ pool: collector.internals.pool!, usage, log: silentLogger });
    await usage.refresh();
    expect(await restarted.run()).toMatchObject({ restored: 1, throttled: 0, errors: 0 });
    const restore = await answered(a.id, "change_plan");
    expect(restore).toMatchObject({ status: "acked", path: "coa", params: { planId, downloadKbps: 20_000, uploadKbps: 10_000 } });
    expect(simSession(a.username)).toMatchObject({ downloadKbps: 20_000, uploadKbps: 10_000 });
    await usage.refresh();
    expect(await createFupEnforcer({ pool: collector.internals.pool!, usage, log: silentLogger }).run()).toMatchObject({ restored: 0, throttled: 0 });
    const n = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE reason LIKE 'fair-usage%'");
    expect(n.rows[0]!.n).toBe(2);
  });
});
