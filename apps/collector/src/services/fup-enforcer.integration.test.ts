// The FUP enforcer against a real PostgreSQL: the real usage cache over subscriber_usage,
// requestEnforcement's outbox + audit rows + NOTIFY, sessions in radius_sessions. No
// enforcement worker runs here (rows stay pending); the router side is in
// fup-enforcement.integration.test.ts. "Last month" is made by moving the rows' own
// timestamps back one month (audit_log.at, radius_sessions.started_at, subscriber_usage.time).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestEnforcement } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { silentLogger } from "../log";
import { createUsageCache, type UsageCache } from "./caches";
import { createFupEnforcer, type FupEnforcer, type FupEnforcerConfig } from "./fup-enforcer";

const GB = 1_000_000_000n;
let db: TestDatabase;
let pool: pg.Pool;
let listener: pg.Client;
const notified: string[] = [];
let usage: UsageCache;
let routerId: number;
let supportId: number;
let fup100: number; // 20000/10000 kbps, quota 100 GB, FUP 2000/1000
let fup50: number; // 30000/15000 kbps, quota 50 GB, FUP 3000/1500
let unlimited: number;
let free: number[] = [];

/** A fresh subscriber id from the seeded pool, set active on `planId` with no expiry. */
async function subscriber(planId = fup100): Promise<number> {
  const id = free.shift();
  if (id === undefined) throw new Error("out of seeded subscribers");
  await pool.query("UPDATE subscribers SET plan_id = $2, status = 'active', expires_at = NULL WHERE id = $1", [id, planId]);
  return id;
}

async function online(id: number, startedAt = "now()"): Promise<void> {
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, started_at, last_update_at)
     SELECT $1, 'S-' || id || '-' || floor(random() * 1e9)::text, id, pppoe_username, 'active', '10.9.0.1', ${startedAt}, now() FROM subscribers WHERE id = $2`,
    [routerId, id],
  );
}

async function used(id: number, bytes: bigint, at = "now()"): Promise<void> {
  await pool.query(`INSERT INTO subscriber_usage (time, subscriber_id, router_id, input_octets, output_octets) VALUES (${at}, $1, $2, $3, $4)`, [
    id,
    routerId,
    (bytes / 10n).toString(),
    (bytes - bytes / 10n).toString(),
  ]);
}

/** Everything about this subscriber happened one month earlier (sessions, usage, audit rows). */
async function monthAgo(id: number): Promise<void> {
  await pool.query("UPDATE audit_log SET at = at - interval '1 month' WHERE entity_type = 'subscriber' AND entity_id = $1", [String(id)]);
  await pool.query("UPDATE enforcement_outbox SET requested_at = requested_at - interval '1 month' WHERE subscriber_id = $1", [id]);
  await pool.query("UPDATE radius_sessions SET started_at = started_at - interval '1 month' WHERE subscriber_id = $1", [id]);
  await pool.query("UPDATE subscriber_usage SET time = time - interval '1 month' WHERE subscriber_id = $1", [id]);
}

function enforcer(config: Partial<FupEnforcerConfig> = {}): FupEnforcer {
  return createFupEnforcer({ pool, usage, log: silentLogger, config });
}

async function pass(e: FupEnforcer) {
  await usage.refresh();
  return e.run();
}

interface FupAction {
  id: string;
  kind: string;
  status: string;
  router_id: number | null;
  acct_session_id: string | null;
  requested_by_id: number | null;
  reason: string;
  params: unknown;
}

const actions = async (id: number) =>
  (
    await pool.query<FupAction>(
      `SELECT id::text, kind::text, status::text, router_id, acct_session_id, requested_by_id, reason, params
         FROM enforcement_outbox WHERE subscriber_id = $1 AND reason LIKE 'fair-usage%' ORDER BY id`,
      [id],
    )
  ).rows;

const audits = async (id: number) =>
  (
    await pool.query<{ operator_id: number | null; action: string; details: { actionId: string; reason: string; before: unknown; after: unknown; params: unknown } }>(
      "SELECT operator_id, action, details FROM audit_log WHERE entity_type = 'subscriber' AND entity_id = $1 AND actor = 'fup' ORDER BY id",
      [String(id)],
    )
  ).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 60 });
  pool = new pg.Pool({ connectionString: db.url, max: 6 });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers ORDER BY id LIMIT 1")).rows[0]!.id;
  supportId = (await pool.query<{ id: number }>("SELECT id FROM operators WHERE username = 'support'")).rows[0]!.id;
  const plan = async (code: string, dl: number, ul: number, quota: bigint | null, fdl: number | null, ful: number | null) =>
    (
      await pool.query<{ id: number }>(
        `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, fup_quota_bytes, fup_download_kbps, fup_upload_kbps)
         VALUES ($1, $1, $2, $3, 100000, $4, $5, $6) RETURNING id`,
        [code, dl, ul, quota?.toString() ?? null, fdl, ful],
      )
    ).rows[0]!.id;
  fup100 = await plan("FUP-100", 20_000, 10_000, 100n * GB, 2000, 1000);
  fup50 = await plan("FUP-50", 30_000, 15_000, 50n * GB, 3000, 1500);
  unlimited = await plan("UNLIMITED", 40_000, 20_000, null, null, null);
  free = (await pool.query<{ id: number }>("SELECT id FROM subscribers ORDER BY id")).rows.map((r) => r.id);
  usage = createUsageCache(pool);
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on("notification", (n) => notified.push(n.payload ?? ""));
  await listener.query("LISTEN enforcement");
});

afterAll(async () => {
  await listener?.end();
  await pool?.end();
  await db?.drop();
});

describe("usage cache", () => {
  it("reads the month even when nobody used anything, and lists who is at or past their plan's quota", async () => {
    const dbMonth = (await pool.query<{ m: Date }>("SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m")).rows[0]!.m;
    const c = createUsageCache(pool);
    expect(c.monthStart()).toBeNull();
    expect(await c.refresh()).toBe(0);
    expect(c.monthStart()).toEqual(dbMonth);
    expect(c.overQuota()).toEqual([]);
    const [at, past, below, lastMonth, other] = [await subscriber(), await subscriber(fup50), await subscriber(), await subscriber(), await subscriber(unlimited)];
    await used(at, 100n * GB);
    await used(past, 60n * GB);
    await used(below, 100n * GB - 1n);
    await used(lastMonth, 500n * GB, "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 second'");
    await used(other, 500n * GB);
    expect(await c.refresh()).toBe(3);
    expect(c.monthBytes(below)).toBe(100n * GB - 1n);
    expect(c.monthBytes(lastMonth)).toBe(0n);
    expect(c.monthBytes(other)).toBe(0n);
    expect([...c.overQuota()].sort((x, y) => x.subscriberId - y.subscriberId)).toEqual([
      { subscriberId: at, planId: fup100, bytes: 100n * GB, quotaBytes: 100n * GB },
      { subscriberId: past, planId: fup50, bytes: 60n * GB, quotaBytes: 50n * GB },
    ]);
    // Nobody here is online: a pass throttles no one.
    const p = await createFupEnforcer({ pool, usage: c, log: silentLogger }).run();
    expect(p).toMatchObject({ monthStart: dbMonth, checked: 2, throttled: 0, skipped: { offline: 2 } });
    await pool.query("DELETE FROM subscriber_usage WHERE subscriber_id = ANY($1)", [[at, past, below, lastMonth, other]]);
  });
});

describe("throttle on crossing", () => {
  it("one throttle (outbox + audit + NOTIFY) for the subscriber who crossed; none for the others; none on the next pass or after a restart", async () => {
    const crossed = await subscriber();
    await online(crossed);
    await used(crossed, 60n * GB);
    await used(crossed, 41_234_567_890n);
    const under = await subscriber();
    await online(under);
    await used(under, 99n * GB);
    const suspended = await subscriber();
    await online(suspended);
    await used(suspended, 120n * GB);
    await pool.query("UPDATE subscribers SET status = 'suspended' WHERE id = $1", [suspended]);
    const expired = await subscriber();
    await online(expired);
    await used(expired, 120n * GB);
    await pool.query("UPDATE subscribers SET expires_at = now() - interval '1 hour' WHERE id = $1", [expired]);
    const offline = await subscriber();
    await used(offline, 120n * GB);
    const garden = await subscriber();
    await online(garden);
    await used(garden, 120n * GB);
    await requestEnforcement(db.prisma, { kind: "walled_garden_on", subscriberId: garden, operatorId: supportId, actor: "support" });
    const heldLow = await subscriber();
    await online(heldLow);
    await used(heldLow, 120n * GB);
    await requestEnforcement(db.prisma, { kind: "throttle", subscriberId: heldLow, rate: { downloadKbps: 512, uploadKbps: 256 }, operatorId: supportId, actor: "support" });
    const heldHigh = await subscriber();
    await online(heldHigh);
    await used(heldHigh, 120n * GB);
    await requestEnforcement(db.prisma, { kind: "throttle", subscriberId: heldHigh, rate: { downloadKbps: 5000, uploadKbps: 2500 }, operatorId: supportId, actor: "support" });
    const noFup = await subscriber(unlimited);
    await online(noFup);
    await used(noFup, 500n * GB);

    notified.length = 0;
    const first = await pass(enforcer());
    expect(first.throttled).toBe(2);
    expect(first.skipped).toEqual({ suspended: 1, expired: 1, offline: 1, walled_garden: 1, operator_throttle: 1 });
    expect(first.errors).toBe(0);

    const [row, ...more] = await actions(crossed);
    expect(more).toEqual([]);
    const session = (await pool.query<{ acct_session_id: string }>("SELECT acct_session_id FROM radius_sessions WHERE subscriber_id = $1", [crossed])).rows[0]!;
    expect(row).toMatchObject({
      kind: "throttle",
      status: "pending",
      router_id: routerId,
      acct_session_id: session.acct_session_id,
      requested_by_id: null,
      reason: "fair-usage quota 100 GB passed (101.2 GB this month)",
      params: { downloadKbps: 2000, uploadKbps: 1000 },
    });
    const audit = await audits(crossed);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      operator_id: null,
      action: "subscriber.throttle",
      details: { actionId: row!.id, reason: row!.reason, after: { status: "active", planId: fup100 }, params: { downloadKbps: 2000, uploadKbps: 1000 } },
    });
    // An operator's throttle above the FUP rate does not hold it off.
    expect((await actions(heldHigh)).map((a) => [a.kind, a.params])).toEqual([["throttle", { downloadKbps: 2000, uploadKbps: 1000 }]]);
    for (const id of [under, suspended, expired, offline, garden, heldLow, noFup]) {
      expect(await actions(id), `subscriber ${id}`).toEqual([]);
      expect(await audits(id), `subscriber ${id}`).toEqual([]);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(notified.sort()).toEqual([row!.id, (await actions(heldHigh))[0]!.id].sort());

    // Usage keeps growing: the next pass, and a new enforcer (a collector restart), add nothing.
    await used(crossed, 5n * GB);
    const second = await pass(enforcer());
    expect(second).toMatchObject({ throttled: 0, restored: 0, errors: 0 });
    const again = enforcer();
    expect(await pass(again)).toMatchObject({ throttled: 0, restored: 0 });
    expect(await pass(again)).toMatchObject({ throttled: 0, restored: 0, checked: 5 }); // the two throttled are known now
    expect(await actions(crossed)).toHaveLength(1);
    expect(await audits(crossed)).toHaveLength(1);

    // The offline one logs in (auth gives the FUP rate): one throttle all the same, the month's marker.
    await online(offline);
    expect(await pass(again)).toMatchObject({ throttled: 1 });
    expect((await actions(offline)).map((a) => a.kind)).toEqual(["throttle"]);
  });

  it("two collectors at once throttle once (the subscriber lock and the re-check)", async () => {
    const id = await subscriber();
    await online(id);
    await used(id, 150n * GB);
    await usage.refresh();
    // Hold the subscriber row so both read it as a candidate and then queue on its lock.
    const holder = await pool.connect();
    let results: Awaited<ReturnType<FupEnforcer["run"]>>[];
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM subscribers WHERE id = $1 FOR UPDATE", [id]);
      const both = Promise.all([enforcer().run(), enforcer().run()]);
      for (let i = 0; ; i++) {
        const w = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'SELECT 1 FROM subscribers%'",
        );
        if (w.rows[0]!.n === 2) break;
        if (i > 400) throw new Error("the two passes never queued on the subscriber lock");
        await new Promise((r) => setTimeout(r, 25));
      }
      await holder.query("COMMIT");
      results = await both;
    } finally {
      holder.release();
    }
    expect(results.map((r) => r.throttled).sort()).toEqual([0, 1]);
    expect(await actions(id)).toHaveLength(1);
    expect(await audits(id)).toHaveLength(1);
  });

  it("at most actionsPerPassMax throttles per pass, the rest on the next ones", async () => {
    const ids = [await subscriber(), await subscriber(), await subscriber()];
    for (const id of ids) {
      await online(id);
      await used(id, 200n * GB);
    }
    const e = enforcer({ actionsPerPassMax: 2 });
    const p1 = await pass(e);
    expect(p1).toMatchObject({ throttled: 2, deferred: 1 });
    expect(await pass(e)).toMatchObject({ throttled: 1, deferred: 0 });
    expect(await pass(e)).toMatchObject({ throttled: 0, deferred: 0 });
    for (const id of ids) expect(await actions(id)).toHaveLength(1);
  });

  it("a plan change to another FUP plan whose quota is passed throttles again at that plan's FUP rate", async () => {
    const id = await subscriber();
    await online(id);
    await used(id, 110n * GB);
    const e = enforcer();
    expect(await pass(e)).toMatchObject({ throttled: 1 });
    await requestEnforcement(db.prisma, { kind: "change_plan", subscriberId: id, planId: fup50, operatorId: supportId, actor: "support" });
    expect(await pass(e)).toMatchObject({ throttled: 1 });
    expect(await pass(e)).toMatchObject({ throttled: 0 });
    expect((await actions(id)).map((a) => a.params)).toEqual([
      { downloadKbps: 2000, uploadKbps: 1000 },
      { downloadKbps: 3000, uploadKbps: 1500 },
    ]);
    // To a plan without FUP: nothing more.
    await requestEnforcement(db.prisma, { kind: "change_plan", subscriberId: id, planId: unlimited, operatorId: supportId, actor: "support" });
    expect(await pass(e)).toMatchObject({ throttled: 0 });
    expect(await actions(id)).toHaveLength(2);
  });
});

describe("month rollover", () => {
  it("plan rate back once for those the FUP throttled last month; not after an operator's action, not suspended, not re-logged, not over quota again", async () => {
    const e = enforcer();
    const back = await subscriber();
    const overruled = await subscriber();
    const suspended = await subscriber();
    const relogged = await subscriber();
    const stillOver = await subscriber();
    const retiredPlan = await subscriber(fup50);
    const all = [back, overruled, suspended, relogged, stillOver, retiredPlan];
    for (const id of all) {
      await online(id);
      await used(id, 130n * GB);
    }
    expect(await pass(e)).toMatchObject({ throttled: all.length });
    // A support agent throttles `overruled` harder after the FUP did.
    await requestEnforcement(db.prisma, { kind: "throttle", subscriberId: overruled, rate: { downloadKbps: 256, uploadKbps: 128 }, operatorId: supportId, actor: "support" });
    for (const id of all) await monthAgo(id);
    await pool.query("UPDATE subscribers SET status = 'suspended' WHERE id = $1", [suspended]);
    // `relogged` started a new session this month: auth gave it the plan rate already.
    await pool.query("UPDATE radius_sessions SET status = 'stopped', stopped_at = now() - interval '2 days' WHERE subscriber_id = $1", [relogged]);
    await online(relogged);
    await used(stillOver, 101n * GB);
    await used(back, 1n * GB);
    await pool.query("UPDATE plans SET active = false WHERE id = $1", [fup50]);
    const planUpdatedAt = (await pool.query<{ updated_at: Date }>("SELECT updated_at FROM subscribers WHERE id = $1", [back])).rows[0]!.updated_at;

    const e2 = enforcer(); // a collector (re)started this month
    const p = await pass(e2);
    expect(p).toMatchObject({ restored: 2, throttled: 1, errors: 0 });
    const monthKey = p.monthStart!.toISOString().slice(0, 7);
    const [restore, ...rest] = (await actions(back)).slice(1);
    expect(rest).toEqual([]);
    expect(restore).toMatchObject({
      kind: "change_plan",
      status: "pending",
      requested_by_id: null,
      reason: `fair-usage: new month ${monthKey}, plan rate 20000/10000 kbps restored`,
      params: { planId: fup100, downloadKbps: 20_000, uploadKbps: 10_000 },
    });
    expect((await audits(back)).map((a) => [a.action, a.details.before, a.details.after])).toEqual([
      ["subscriber.throttle", { status: "active", planId: fup100 }, { status: "active", planId: fup100 }],
      ["subscriber.change_plan", { status: "active", planId: fup100 }, { status: "active", planId: fup100 }],
    ]);
    // Same plan: no state change.
    const after = (await pool.query<{ plan_id: number; updated_at: Date }>("SELECT plan_id, updated_at FROM subscribers WHERE id = $1", [back])).rows[0]!;
    expect(after).toEqual({ plan_id: fup100, updated_at: planUpdatedAt });
    // A retired plan refuses change_plan: a throttle at the plan's own rate instead.
    expect((await actions(retiredPlan)).slice(1).map((a) => [a.kind, a.params, a.reason])).toEqual([
      ["throttle", { downloadKbps: 30_000, uploadKbps: 15_000 }, `fair-usage: new month ${monthKey}, plan rate 30000/15000 kbps restored`],
    ]);
    // Over quota again this month: this month's throttle, not a restore.
    expect((await actions(stillOver)).map((a) => a.reason)).toEqual([
      expect.stringMatching(/^fair-usage quota 100 GB passed/),
      "fair-usage quota 100 GB passed (101 GB this month)",
    ]);
    for (const id of [overruled, suspended, relogged]) expect(await actions(id), `subscriber ${id}`).toHaveLength(1);

    // Once: the same enforcer, a new one (restart), with usage growing (under quota).
    await used(back, 2n * GB);
    expect(await pass(e2)).toMatchObject({ restored: 0, throttled: 0 });
    expect(await pass(enforcer())).toMatchObject({ restored: 0, throttled: 0 });
    expect(await actions(back)).toHaveLength(2);
    expect(await actions(retiredPlan)).toHaveLength(2);

    // The restore is not this month's throttle marker: crossing later in the month throttles.
    await used(back, 100n * GB);
    expect(await pass(e2)).toMatchObject({ throttled: 1 });
    expect((await actions(back)).map((a) => a.kind)).toEqual(["throttle", "change_plan", "throttle"]);
  });
});
