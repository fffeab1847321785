// Routers that authenticate locally, and queue-rate drift (issue 4): the collector keeps
// /ppp/secret on local-auth routers in step with billing (after every enforcement action,
// and by the reconciler), and the reconciler puts simple-queue rates back to what billing
// says. Two RouterSimulators on loopback, one reached over the RouterOS API (node-routeros,
// TCP) and one over REST (HTTP), with a real PostgreSQL.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouterSimulator } from "@isp/network/simulator";
import { requestEnforcement, type EnforcementKind } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import { createReconciler, type Reconciler } from "./services/reconciler";
import { loopbackEndpoints } from "./test-collector";

const secret = "demo-secret-2026";
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
let simApi: RouterSimulator;
let simRest: RouterSimulator;
let apiRouterId: number;
let restRouterId: number;
let subs: { id: number; username: string; password: string; plan_code: string }[] = [];
/** FUP usage the test's reconciler sees (the collector's own reads the usage tables). */
const monthBytes = new Map<number, bigint>();
let reconciler: Reconciler;

/** One reconciler pass over every router; the results of the two simulated ones. */
async function runAll() {
  const r = await reconciler.runOnce();
  return { api: r.find((x) => x.routerId === apiRouterId)!, rest: r.find((x) => x.routerId === restRouterId)! };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function act(kind: EnforcementKind, subscriberId: number, extra: { planId?: number } = {}): Promise<{ id: string; status: string; path: string | null }> {
  const { actionId } = await requestEnforcement(db.prisma, { kind, subscriberId, operatorId: null, actor: "test", ...extra });
  return waitFor(`${kind} ${actionId}`, async () => {
    const r = await pool.query<{ id: string; status: string; path: string | null }>(
      "SELECT id::text, status::text, path::text FROM enforcement_outbox WHERE id = $1 AND completed_at IS NOT NULL",
      [actionId],
    );
    return r.rows[0];
  });
}

const secretOn = (sim: RouterSimulator, name: string) => sim.routerState.print("/ppp/secret").find((r) => r.name === name);
const sub = (i: number) => subs[i]!;
const noRepairs = { disconnect: 0, disconnect_queued: 0, zombie_closed: 0, address_list_removed: 0, queue_rate: 0, secret_added: 0, secret_updated: 0, secret_removed: 0 };

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 30 });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  apiRouterId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.2'")).rows[0]!.id;
  restRouterId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.3'")).rows[0]!.id;
  // The seed's third router is a Cisco; RouterOS (API, REST, Mikrotik-Rate-Limit) needs a MikroTik.
  await pool.query("UPDATE routers SET vendor = 'mikrotik' WHERE id = $1", [restRouterId]);
  // Clear passwords before the collector encrypts them (the seed writes the legacy plain column).
  subs = (
    await pool.query<{ id: number; username: string; password: string; plan_code: string }>(
      `SELECT s.id, s.pppoe_username AS username, s.pppoe_password AS password, p.code AS plan_code
         FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.status = 'active' ORDER BY s.id LIMIT 16`,
    )
  ).rows;
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "local-auth-test-secret-0123456789abcdef",
    acctInterimIntervalS: 60,
    enforcement: { sweepIntervalMs: 200, backoffBaseMs: 100, backoffMaxMs: 200, adapterTimeoutMs: 2000 },
    reconcile: { intervalMs: 3_600_000 },
    coa: { timeoutMs: 250, retries: 1 },
    log: silentLogger,
  });
  await collector.start();
  const simOptions = (nasIp: string, dial: typeof subs) => ({
    nasIp,
    secret,
    serverHost: "127.0.0.1",
    authPort: collector.ports.auth,
    acctPort: collector.ports.acct,
    coaPort: 0,
    subscribers: dial.map((s) => ({ username: s.username, password: s.password })),
    interimIntervalMs: 60_000,
    connectPerSecond: 50,
    seed: 11,
    routerUsers: { enforcer: "s3cret" },
  });
  // Sessions 0..5 on the API router, 6..9 on the REST router; the rest stay offline.
  simApi = new RouterSimulator({ ...simOptions("127.0.0.2", subs.slice(0, 6)), routerOsApi: { port: 0 } });
  simRest = new RouterSimulator({ ...simOptions("127.0.0.3", subs.slice(6, 10)), routerOsRest: { port: 0 } });
  await Promise.all([simApi.start(), simRest.start()]);
  await pool.query("UPDATE routers SET coa_port = $2, api_kind = 'api', api_port = $3, api_username = 'enforcer', api_password = 's3cret' WHERE id = $1", [
    apiRouterId,
    simApi.coaBoundPort(),
    simApi.apiBoundPort(),
  ]);
  await pool.query("UPDATE routers SET coa_port = $2, api_kind = 'rest', rest_url = $3, api_username = 'enforcer', api_password = 's3cret' WHERE id = $1", [
    restRouterId,
    simRest.coaBoundPort(),
    `http://127.0.0.3:${simRest.restBoundPort()}`,
  ]);
  await waitFor("every session in the database", async () => {
    const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active'");
    return r.rows[0]!.n === 10;
  });
  const e = collector.internals.enforcement!;
  reconciler = createReconciler({
    pool,
    adapterFor: (r) => e.adapterFor(r),
    routerLastSeen: () => undefined,
    secrets: collector.internals.secretSync,
    monthBytes: (id) => monthBytes.get(id) ?? 0n,
    log: silentLogger,
    config: { intervalMs: 3_600_000 },
  });
}, 60_000);

afterAll(async () => {
  await simApi?.stop({ sendStops: false });
  await simRest?.stop({ sendStops: false });
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

describe("/ppp/secret on local-auth routers", () => {
  it("radius routers get no secrets; an action on a local-auth router's subscriber syncs them over API and REST", async () => {
    // auth_mode radius (the default): an action changes nothing in /ppp/secret.
    expect(await act("suspend", sub(12).id)).toMatchObject({ status: "acked" });
    await collector.internals.secretSync!.idle();
    expect(simApi.routerState.print("/ppp/secret")).toEqual([]);
    await act("restore", sub(12).id);

    await pool.query("UPDATE routers SET auth_mode = 'local' WHERE id = ANY($1::int[])", [[apiRouterId, restRouterId]]);
    // The hook's router list is cached for a few seconds; wait it out.
    await new Promise((r) => setTimeout(r, 5_100));
    const s = sub(12); // offline everywhere: the action acks "at next login", the secret still follows
    expect(await act("suspend", s.id)).toMatchObject({ status: "acked", path: null });
    for (const sim of [simApi, simRest]) {
      const got = await waitFor("secret synced", () => secretOn(sim, s.username));
      expect(got).toMatchObject({ password: s.password, profile: s.plan_code, disabled: "true", service: "pppoe", comment: `isp sub ${s.id}` });
      expect(got).not.toHaveProperty("remote-address");
    }
    // Restore with a static IP now set; a plan with its own RouterOS profile.
    await pool.query("UPDATE subscribers SET static_ip = '100.64.77.7' WHERE id = $1", [s.id]);
    await act("restore", s.id);
    for (const sim of [simApi, simRest]) {
      await waitFor("enabled with remote-address", () => secretOn(sim, s.username)?.disabled === "false" && secretOn(sim, s.username)?.["remote-address"] === "100.64.77.7");
    }
    const plan = (await pool.query<{ id: number }>("UPDATE plans SET ppp_profile = 'biz-50m' WHERE code = 'BUSINESS-50' RETURNING id")).rows[0]!;
    await act("change_plan", s.id, { planId: plan.id });
    for (const sim of [simApi, simRest]) await waitFor("profile", () => secretOn(sim, s.username)?.profile === "biz-50m");
    await act("terminate", s.id);
    for (const sim of [simApi, simRest]) await waitFor("removed on terminate", () => !secretOn(sim, s.username));
    // The audit row follows the router's answer: wait for the sync to finish writing it.
    await collector.internals.secretSync!.idle();
    const audit = await pool.query<{ action: string; n: number }>(
      "SELECT action, count(*)::int AS n FROM audit_log WHERE entity_id = $1 AND action LIKE 'secret.%' GROUP BY action ORDER BY action",
      [String(s.id)],
    );
    // suspend, restore, change_plan on two routers; terminate on two.
    expect(audit.rows).toEqual([
      { action: "secret.removed", n: 2 },
      { action: "secret.synced", n: 6 },
    ]);
    // Actions that change no billing state (kick, throttle) do not touch secrets.
    const before = collector.internals.secretSync!.counters.synced + collector.internals.secretSync!.counters.unchanged;
    await act("kick", sub(13).id);
    await collector.internals.secretSync!.idle();
    expect(collector.internals.secretSync!.counters.synced + collector.internals.secretSync!.counters.unchanged).toBe(before);
  }, 30_000);

  it("the reconciler adds missing secrets, repairs different ones, removes ours that are extra and leaves others' alone", async () => {
    const { api: api1, rest: rest1 } = await runAll();
    const wanted = (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM subscribers WHERE status <> 'terminated'")).rows[0]!.n;
    // Everyone without a secret yet (sub 12 is terminated, so not among them).
    expect(api1).toMatchObject({ apiOk: true, repairs: { secret_added: wanted, secret_updated: 0, secret_removed: 0 } });
    expect(rest1).toMatchObject({ apiOk: true, repairs: { secret_added: wanted, secret_updated: 0, secret_removed: 0 } });
    expect(simApi.routerState.print("/ppp/secret")).toHaveLength(wanted);

    // Drift on both routers: one deleted, one edited by hand, one stale of ours, a
    // terminated subscriber's put back, and a staff secret that is not ours.
    for (const sim of [simApi, simRest]) {
      sim.routerState.remove("/ppp/secret", sub(1).username);
      sim.routerState.set("/ppp/secret", sub(2).username, { password: "guessed", disabled: "true" });
      sim.routerState.add("/ppp/secret", { name: "old-customer", password: "x", comment: "isp sub 999999" });
      sim.routerState.add("/ppp/secret", { name: sub(12).username, password: "x", comment: `isp sub ${sub(12).id}` });
      sim.routerState.add("/ppp/secret", { name: "noc-laptop", password: "x", comment: "staff" });
    }
    const mark = (await pool.query<{ id: string }>("SELECT max(id)::text AS id FROM audit_log")).rows[0]!.id;
    const { api: api2, rest: rest2 } = await runAll();
    for (const [r, sim] of [[api2, simApi], [rest2, simRest]] as const) {
      expect(r.repairs).toEqual({ ...noRepairs, secret_added: 1, secret_updated: 1, secret_removed: 2 });
      expect(secretOn(sim, sub(1).username)).toMatchObject({ password: sub(1).password, disabled: "false" });
      expect(secretOn(sim, sub(2).username)).toMatchObject({ password: sub(2).password, disabled: "false" });
      expect(secretOn(sim, "old-customer")).toBeUndefined();
      expect(secretOn(sim, sub(12).username)).toBeUndefined();
      expect(secretOn(sim, "noc-laptop")).toMatchObject({ comment: "staff" });
    }
    const audit = await pool.query<{ action: string; n: number }>(
      `SELECT action, count(*)::int AS n FROM audit_log WHERE actor = 'reconciler' AND action LIKE 'reconcile.secret_%' AND id > $1::bigint
        GROUP BY action ORDER BY action`,
      [mark],
    );
    // Per router: one added, one updated, two removed.
    expect(audit.rows).toEqual([
      { action: "reconcile.secret_added", n: 2 },
      { action: "reconcile.secret_removed", n: 4 },
      { action: "reconcile.secret_updated", n: 2 },
    ]);
    // Converged: nothing more to do.
    const again = await runAll();
    for (const r of [again.api, again.rest]) expect(r.repairs).toEqual(noRepairs);
  }, 30_000);
});

describe("queue rates", () => {
  const planRate = async (subscriberId: number) =>
    (await pool.query<{ download_kbps: number; upload_kbps: number }>("SELECT p.download_kbps, p.upload_kbps FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.id = $1", [subscriberId])).rows[0]!;
  const queue = (sim: RouterSimulator, name: string) => sim.routerState.print("/queue/simple").find((q) => q.name === name);
  const session = (sim: RouterSimulator, username: string) => sim.sessions().find((s) => s.username === username)!;

  it("a dynamic queue off the plan's rate gets a static queue at the plan rate (API); a static one is set back (REST); recorded as repairs", async () => {
    // API router: the RADIUS-made dynamic queue changed behind billing's back.
    const a = sub(0);
    simApi.routerState.set("/queue/simple", `<pppoe-${a.username}>`, { "max-limit": "512000/1024000" }, { internal: true });
    // REST router: a static queue someone left at the wrong rate.
    const b = sub(6);
    simRest.routerState.add("/queue/simple", { name: b.username, target: `${session(simRest, b.username).framedIp}/32`, "max-limit": "1000000/2000000" });
    const { api, rest } = await runAll();
    expect(api.repairs).toMatchObject({ queue_rate: 1 });
    expect(rest.repairs).toMatchObject({ queue_rate: 1 });
    for (const [sim, s] of [[simApi, a], [simRest, b]] as const) {
      const want = await planRate(s.id);
      expect(queue(sim, s.username)).toMatchObject({ dynamic: "false", "max-limit": `${want.upload_kbps * 1000}/${want.download_kbps * 1000}` });
      // The simulated session is shaped by it, so accounting follows.
      expect(session(sim, s.username)).toMatchObject({ downloadKbps: want.download_kbps, uploadKbps: want.upload_kbps });
      const row = await pool.query("SELECT kind::text, status::text, path::text, reason, params FROM enforcement_outbox WHERE subscriber_id = $1 AND reason = 'reconciler: queue_rate'", [s.id]);
      expect(row.rows).toEqual([
        {
          kind: "change_plan",
          status: "acked",
          path: sim === simApi ? "api" : "rest",
          reason: "reconciler: queue_rate",
          params: expect.objectContaining({ downloadKbps: want.download_kbps, uploadKbps: want.upload_kbps, source: "plan" }),
        },
      ]);
      const audit = await pool.query("SELECT action, details->>'ok' AS ok FROM audit_log WHERE actor = 'reconciler' AND action = 'reconcile.queue_rate' AND entity_id = $1", [String(s.id)]);
      expect(audit.rows).toEqual([{ action: "reconcile.queue_rate", ok: "true" }]);
    }
    expect(reconciler.counters.queue_rate).toBe(2);
  });

  it("a support agent's throttle holds for the session; over the FUP quota the throttled rate is what billing says", async () => {
    // Throttled over CoA: the dynamic queue follows; the reconciler leaves it.
    const t = sub(3);
    expect(await act("throttle", t.id)).toMatchObject({ status: "acked", path: "coa" });
    const throttled = queue(simApi, `<pppoe-${t.username}>`)!["max-limit"];
    expect(throttled).not.toBe(`${(await planRate(t.id)).upload_kbps * 1000}/${(await planRate(t.id)).download_kbps * 1000}`);
    // FUP: a plan with a quota this subscriber is past.
    const f = sub(7);
    const fup = (
      await pool.query<{ id: number }>(
        `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, fup_quota_bytes, fup_download_kbps, fup_upload_kbps)
         VALUES ('FUP-TEST', 'FUP test', 20480, 4096, 100000, 1000000, 1024, 512) RETURNING id`,
      )
    ).rows[0]!;
    await pool.query("UPDATE subscribers SET plan_id = $2 WHERE id = $1", [f.id, fup.id]);
    monthBytes.set(f.id, 5_000_000n);
    const { api, rest } = await runAll();
    expect(api.repairs).toMatchObject({ queue_rate: 0 });
    expect(queue(simApi, `<pppoe-${t.username}>`)!["max-limit"]).toBe(throttled);
    expect(rest.repairs).toMatchObject({ queue_rate: 1 });
    expect(queue(simRest, f.username)).toMatchObject({ "max-limit": "512000/1024000" });
    const row = await pool.query("SELECT kind::text, params->>'source' AS source FROM enforcement_outbox WHERE subscriber_id = $1 AND reason = 'reconciler: queue_rate'", [f.id]);
    expect(row.rows).toEqual([{ kind: "throttle", source: "fup" }]);
    // Under the quota again (a new month): back to the plan's rate.
    monthBytes.set(f.id, 0n);
    const [rest2] = await reconciler.runOnce(restRouterId);
    expect(rest2!.repairs).toMatchObject({ queue_rate: 1 });
    expect(queue(simRest, f.username)).toMatchObject({ "max-limit": "4096000/20480000" });
    // Converged.
    const last = await runAll();
    for (const r of [last.api, last.rest]) expect(r.repairs.queue_rate).toBe(0);
  });
});
