// Billing actions end to end on loopback (issue 4): the collector's enforcement worker
// against a RouterSimulator that also serves the RouterOS API and REST. Every action over
// CoA/Disconnect; a CoA NAK 404 and a CoA timeout falling back to the API and to REST;
// actions queued while the worker is down happen once it is back, none twice; and
// reconciliation catching the "ACK but still online" router, zombies and stale list entries.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { SignJWT } from "jose";
import pg from "pg";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeResponse } from "@isp/network/radius/auth";
import { decodePacket, PacketCode } from "@isp/network/radius/codec";
import { RouterSimulator } from "@isp/network/simulator";
import { requestEnforcement, type EnforcementKind } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import type { EnforcementResultEvent, NocState } from "./services/live-hub";
import { loopbackEndpoints } from "./test-collector";

const secret = "demo-secret-2026";
const dialled = 16;
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
let sim: RouterSimulator;
let routerId: number;
let subs: { id: number; username: string; password: string }[] = [];
let nakServer: UdpSocket;
let silentServer: UdpSocket;
let socket: Socket;
const liveResults: EnforcementResultEvent[] = [];
const nocStates: NocState[] = [];
const authSecret = "collector-actions-test-secret-0123456789";

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function bindUdp(onMessage: (s: UdpSocket, msg: Buffer, port: number, address: string) => void): Promise<UdpSocket> {
  const s = createSocket("udp4");
  s.on("message", (msg, rinfo) => onMessage(s, msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.2", resolve));
  return s;
}

interface Outcome {
  status: string;
  path: string | null;
  error_cause: number | null;
  error_code: string | null;
  escalated: boolean;
  router_latency_ms: number | null;
  attempts: number;
}

async function act(kind: EnforcementKind, subscriberId: number, extra: { planId?: number } = {}): Promise<Outcome & { id: string }> {
  const { actionId } = await requestEnforcement(db.prisma, { kind, subscriberId, operatorId: null, actor: "test", ...extra });
  return waitFor(`${kind} ${actionId}`, async () => {
    const r = await pool.query<Outcome & { id: string }>(
      "SELECT id::text, status::text, path::text, error_cause, error_code, escalated, router_latency_ms, attempts FROM enforcement_outbox WHERE id = $1 AND completed_at IS NOT NULL",
      [actionId],
    );
    return r.rows[0];
  });
}

const simSession = (username: string) => sim.sessions().find((s) => s.username === username);
const setRouter = (fields: Record<string, string | number | null>) => {
  const keys = Object.keys(fields);
  return pool.query(`UPDATE routers SET ${keys.map((k, i) => `${k} = $${i + 2}`).join(", ")} WHERE id = $1`, [routerId, ...keys.map((k) => fields[k])]);
};
const sub = (i: number) => subs[i]!;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 40 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.2'")).rows[0]!.id;
  subs = (
    await pool.query<{ id: number; username: string; password: string }>(
      "SELECT id, pppoe_username AS username, pppoe_password AS password FROM subscribers WHERE status = 'active' ORDER BY id LIMIT $1",
      [dialled],
    )
  ).rows;
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret,
    liveTickMs: 200,
    acctInterimIntervalS: 60,
    enforcement: { sweepIntervalMs: 200, backoffBaseMs: 100, backoffMaxMs: 200, adapterTimeoutMs: 2000 },
    // Runs are driven by the tests (runOnce); the timer never fires during them.
    reconcile: { intervalMs: 3_600_000, zombieGraceMs: 500 },
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
    seed: 7,
    routerOsApi: { port: 0 },
    routerOsRest: { port: 0 },
    routerUsers: { enforcer: "s3cret" },
  });
  await sim.start();
  await setRouter({ coa_port: sim.coaBoundPort(), api_port: sim.apiBoundPort(), api_username: "enforcer", api_password: "s3cret", rest_url: `http://127.0.0.2:${sim.restBoundPort()}` });
  // A router that NAKs every CoA/Disconnect with Error-Cause 404 (Invalid-Request), and one that never answers.
  nakServer = await bindUdp((s, msg, port, address) => {
    const p = decodePacket(msg);
    const code = p.code === PacketCode.CoaRequest ? PacketCode.CoaNak : PacketCode.DisconnectNak;
    s.send(encodeResponse({ code, identifier: p.identifier, requestAuthenticator: p.authenticator, attributes: [["Error-Cause", 404]], secret }), port, address);
  });
  silentServer = await bindUdp(() => undefined);
  // The NOC wall's socket: every enforcement result and the routers' health arrive here.
  const token = await new SignJWT({ role: "noc" }).setProtectedHeader({ alg: "HS256" }).setSubject("1").setExpirationTime("10m").sign(new TextEncoder().encode(authSecret));
  socket = connect(`http://127.0.0.1:${collector.ports.live}`, { auth: { token }, transports: ["websocket"], reconnection: false });
  socket.on("enforcement:result", (e: EnforcementResultEvent) => liveResults.push(e));
  socket.on("noc:state", (st: NocState) => nocStates.push(st));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  await new Promise((resolve) => socket.emit("subscribe:noc", resolve));
  await waitFor("every session in the database", async () => {
    const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active' AND router_id = $1", [routerId]);
    return r.rows[0]!.n === dialled;
  });
}, 60_000);

afterAll(async () => {
  socket?.close();
  nakServer?.close();
  silentServer?.close();
  await sim?.stop({ sendStops: false });
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

describe("billing actions over CoA/Disconnect", () => {
  it("change plan and throttle change the router's rate; walled garden is ACKed; all via coa", async () => {
    const plan = (await pool.query<{ id: number; download_kbps: number; upload_kbps: number }>("SELECT id, download_kbps, upload_kbps FROM plans WHERE code = 'BUSINESS-50'")).rows[0]!;
    const changed = await act("change_plan", sub(0).id, { planId: plan.id });
    expect(changed).toMatchObject({ status: "acked", path: "coa", escalated: false });
    expect(simSession(sub(0).username)).toMatchObject({ downloadKbps: plan.download_kbps, uploadKbps: plan.upload_kbps });
    expect((await pool.query("SELECT plan_id FROM subscribers WHERE id = $1", [sub(0).id])).rows[0]).toEqual({ plan_id: plan.id });
    // Streamed live with the path that answered.
    const pushed = await waitFor("live result", () => liveResults.find((e) => e.actionId === changed.id));
    expect(pushed).toMatchObject({ subscriberId: sub(0).id, kind: "change_plan", status: "acked", path: "coa", escalated: false });
    expect(pushed.routerLatencyMs).toBeGreaterThanOrEqual(0);

    const throttled = await act("throttle", sub(1).id);
    expect(throttled).toMatchObject({ status: "acked", path: "coa" });
    const before = (await pool.query<{ download_kbps: number }>("SELECT p.download_kbps FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.id = $1", [sub(1).id])).rows[0]!;
    expect(simSession(sub(1).username)!.downloadKbps).toBe(Math.max(64, Math.floor(before.download_kbps / 4)));

    expect(await act("walled_garden_on", sub(2).id)).toMatchObject({ status: "acked", path: "coa" });
    expect(simSession(sub(2).username)).toBeDefined();
  });

  it("kick, suspend, walled garden off and terminate end the session via Disconnect; restore of an offline subscriber is a no-op", async () => {
    for (const [i, kind] of [[3, "kick"], [4, "suspend"], [2, "walled_garden_off"], [5, "terminate"]] as const) {
      const r = await act(kind, sub(i).id);
      expect(r, kind).toMatchObject({ status: "acked", path: "disconnect" });
      await waitFor(`${kind} ends the session`, () => !simSession(sub(i).username));
    }
    const states = await pool.query("SELECT id, status::text FROM subscribers WHERE id = ANY($1) ORDER BY id", [[sub(4).id, sub(5).id]]);
    expect(states.rows).toEqual([
      { id: sub(4).id, status: "suspended" },
      { id: sub(5).id, status: "terminated" },
    ]);
    await waitFor("stops recorded", async () => (await pool.query("SELECT 1 FROM radius_sessions WHERE subscriber_id = $1 AND status = 'active'", [sub(4).id])).rowCount === 0);
    expect(await act("restore", sub(4).id)).toMatchObject({ status: "acked", path: null });
    expect((await pool.query("SELECT status::text FROM subscribers WHERE id = $1", [sub(4).id])).rows[0]).toEqual({ status: "active" });
    const audit = await pool.query("SELECT action FROM audit_log WHERE entity_id = $1 AND actor = 'test' ORDER BY id", [String(sub(4).id)]);
    expect(audit.rows).toEqual([{ action: "subscriber.suspend" }, { action: "subscriber.restore" }]);
  });
});

describe("fallback to the RouterOS adapters", () => {
  it("CoA NAK 404 -> the API sets a queue that changes the rate (path api, cause kept)", async () => {
    await setRouter({ coa_port: nakServer.address().port, api_kind: "api" });
    try {
      const plan = (await pool.query<{ id: number; download_kbps: number }>("SELECT id, download_kbps FROM plans WHERE code = 'HOME-15'")).rows[0]!;
      const r = await act("change_plan", sub(6).id, { planId: plan.id });
      expect(r).toMatchObject({ status: "acked", path: "api", error_cause: 404, escalated: false });
      expect(r.router_latency_ms).toBeGreaterThanOrEqual(0);
      expect(sim.routerState.print("/queue/simple").find((q) => q.name === sub(6).username)).toMatchObject({ "max-limit": expect.any(String) });
      expect(simSession(sub(6).username)!.downloadKbps).toBe(plan.download_kbps);

      const kicked = await act("kick", sub(7).id);
      expect(kicked).toMatchObject({ status: "acked", path: "api", error_cause: 404 });
      await waitFor("API removal ends the session", () => !simSession(sub(7).username));
      expect(sim.stats().apiRemovals).toBeGreaterThanOrEqual(1);
    } finally {
      await setRouter({ coa_port: sim.coaBoundPort(), api_kind: "none" });
    }
  });

  it("CoA timeout -> REST (suspend adds the address list entry and removes the session)", async () => {
    await setRouter({ coa_port: silentServer.address().port, api_kind: "rest" });
    try {
      const ip = simSession(sub(8).username)!.framedIp;
      const r = await act("suspend", sub(8).id);
      expect(r).toMatchObject({ status: "acked", path: "rest", error_cause: null });
      await waitFor("REST removal ends the session", () => !simSession(sub(8).username));
      expect(sim.routerState.print("/ip/firewall/address-list").filter((e) => e.list === "suspended" && e.address === ip)).toHaveLength(1);
      // Replaying the same action (a crash after the router acted) changes nothing more.
      const again = await act("suspend", sub(8).id);
      expect(again).toMatchObject({ status: "acked" });
      expect(sim.routerState.print("/ip/firewall/address-list").filter((e) => e.list === "suspended" && e.address === ip)).toHaveLength(1);
    } finally {
      await setRouter({ coa_port: sim.coaBoundPort(), api_kind: "none" });
    }
  });

  it("no fallback and wrong API login -> NAK/failed escalated to NOC", async () => {
    await setRouter({ coa_port: nakServer.address().port, api_kind: "none" });
    try {
      const nak = await act("throttle", sub(9).id);
      expect(nak).toMatchObject({ status: "nak", error_cause: 404, escalated: true });
      expect(await waitFor("live escalation", () => liveResults.find((e) => e.actionId === nak.id))).toMatchObject({ status: "nak", errorCause: 404, escalated: true });
      await setRouter({ api_kind: "api", api_password: "wrong" });
      expect(await act("throttle", sub(9).id)).toMatchObject({ status: "failed", path: "api", error_code: "login", escalated: true });
      const esc = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'enforcement.escalated' AND entity_id = $1", [String(sub(9).id)]);
      expect(esc.rows[0]!.n).toBe(2);
    } finally {
      await setRouter({ coa_port: sim.coaBoundPort(), api_kind: "none", api_password: "s3cret" });
    }
  });
});

describe("worker down while actions queue up", () => {
  it("queued actions all happen once the worker is back, none twice", async () => {
    const worker = collector.internals.enforcement!;
    await worker.stop();
    const before = sim.stats().disconnectRequests;
    const ids: string[] = [];
    for (const i of [10, 11]) ids.push((await requestEnforcement(db.prisma, { kind: "kick", subscriberId: sub(i).id, operatorId: null, actor: "test" })).actionId);
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.stats().disconnectRequests).toBe(before);
    await worker.start();
    await waitFor("both done", async () => {
      const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM enforcement_outbox WHERE id = ANY($1::bigint[]) AND status = 'acked'", [ids]);
      return r.rows[0]!.n === 2;
    });
    expect(sim.stats().disconnectRequests - before).toBe(2);
    for (const i of [10, 11]) await waitFor("gone", () => !simSession(sub(i).username));
  });
});

describe("reconciliation", () => {
  const reconciler = () => collector.internals.reconciler!;

  it("a router that ACKs a Disconnect and keeps the user is caught and repaired through the API", async () => {
    sim.setCoaMode("ack-without-acting");
    await setRouter({ api_kind: "api" });
    try {
      const r = await act("suspend", sub(12).id);
      expect(r).toMatchObject({ status: "acked", path: "disconnect" });
      await new Promise((res) => setTimeout(res, 200));
      expect(simSession(sub(12).username)).toBeDefined(); // the bug: ACKed, still online
      const [res] = await reconciler().runOnce(routerId);
      expect(res).toMatchObject({ apiOk: true, repairs: { disconnect: 1 } });
      await waitFor("session removed", () => !simSession(sub(12).username));
      await waitFor("its Accounting-Stop recorded", async () => {
        const r = await pool.query("SELECT terminate_cause FROM radius_sessions WHERE subscriber_id = $1 AND status = 'stopped'", [sub(12).id]);
        return r.rows[0]?.terminate_cause === "Admin-Reset";
      }, 3000);
      const repair = await pool.query(
        "SELECT kind::text, status::text, path::text, reason FROM enforcement_outbox WHERE subscriber_id = $1 AND reason LIKE 'reconciler:%'",
        [sub(12).id],
      );
      expect(repair.rows).toEqual([{ kind: "kick", status: "acked", path: "api", reason: "reconciler: disconnect" }]);
      const audit = await pool.query("SELECT action FROM audit_log WHERE actor = 'reconciler' AND entity_id = $1", [String(sub(12).id)]);
      expect(audit.rows).toEqual([{ action: "reconcile.disconnect" }]);
      expect(reconciler().health(routerId)).toMatchObject({ api: "ok", apiError: null, radiusLastSeenAt: expect.any(String), lastSeenAt: expect.any(String) });
      // Nothing left to repair: a second run changes nothing.
      const [again] = await reconciler().runOnce(routerId);
      expect(again!.repairs).toEqual({
        disconnect: 0,
        disconnect_queued: 0,
        zombie_closed: 0,
        address_list_removed: 0,
        queue_rate: 0,
        secret_added: 0,
        secret_updated: 0,
        secret_removed: 0,
      });
    } finally {
      sim.setCoaMode("act");
      await setRouter({ api_kind: "none" });
    }
  });

  it("a session the router no longer has is closed; an active subscriber in the suspended list is taken out", async () => {
    await setRouter({ api_kind: "rest" });
    try {
      const other = (await pool.query<{ id: number; username: string }>("SELECT id, pppoe_username AS username FROM subscribers WHERE NOT (id = ANY($1)) ORDER BY id LIMIT 1", [subs.map((s) => s.id)])).rows[0]!;
      const zombie = await pool.query<{ id: string }>(
        `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, started_at, last_update_at)
         VALUES ($1, 'ZOMBIE-1', $2, $3, 'active', '10.250.0.9', now() - interval '5 minutes', now() - interval '4 minutes') RETURNING id::text`,
        [routerId, other.id, other.username],
      );
      const ip = simSession(sub(13).username)!.framedIp;
      sim.routerState.add("/ip/firewall/address-list", { list: "suspended", address: ip, comment: "stale" });
      const [res] = await reconciler().runOnce(routerId);
      // Missing once is only a suspect (its Stop may be in flight); missing twice is a zombie.
      expect(res).toMatchObject({ apiOk: true, repairs: { zombie_closed: 0, address_list_removed: 1, disconnect: 0 } });
      const [res2] = await reconciler().runOnce(routerId);
      expect(res2).toMatchObject({ apiOk: true, repairs: { zombie_closed: 1, address_list_removed: 0, disconnect: 0 } });
      const z = await pool.query("SELECT status::text, terminate_cause FROM radius_sessions WHERE id = $1", [zombie.rows[0]!.id]);
      expect(z.rows[0]).toEqual({ status: "stopped", terminate_cause: "Reconciled-Zombie" });
      expect(sim.routerState.print("/ip/firewall/address-list").filter((e) => e.address === ip)).toEqual([]);
      // Real sessions are untouched, and the suspended subscriber's entry (from the REST test) stays.
      expect(simSession(sub(13).username)).toBeDefined();
      expect(sim.routerState.print("/ip/firewall/address-list").some((e) => e.list === "suspended")).toBe(true);
      expect(reconciler().counters.zombie_closed).toBeGreaterThanOrEqual(1);
    } finally {
      await setRouter({ api_kind: "none" });
    }
  });

  it("without an adapter, a suspended subscriber online in our table gets a Disconnect queued by the reconciler", async () => {
    // Drift: billing changed the status without an action (e.g. a direct SQL fix).
    await pool.query("UPDATE subscribers SET status = 'suspended' WHERE id = $1", [sub(14).id]);
    const [res] = await reconciler().runOnce(routerId);
    expect(res).toMatchObject({ apiOk: null, repairs: { disconnect_queued: 1 } });
    await waitFor("worker disconnects", () => !simSession(sub(14).username));
    const row = await waitFor("row done", async () => {
      const r = await pool.query("SELECT kind::text, status::text, path::text FROM enforcement_outbox WHERE subscriber_id = $1 AND reason LIKE 'reconciler:%' AND completed_at IS NOT NULL", [sub(14).id]);
      return r.rows.length ? r.rows : null;
    });
    expect(row).toEqual([{ kind: "kick", status: "acked", path: "disconnect" }]);
    expect(reconciler().health(routerId)).toMatchObject({ api: "none" });
  });

  it("a failed API login shows in the router's health", async () => {
    await setRouter({ api_kind: "api", api_password: "nope" });
    try {
      const [res] = await reconciler().runOnce(routerId);
      expect(res!.apiOk).toBe(false);
      expect(reconciler().health(routerId)).toMatchObject({ api: "failed", apiError: expect.any(String) });
      // The NOC wall's router row shows it on the next tick.
      const seen = nocStates.length;
      const st = await waitFor("noc:state with API failed", () => nocStates.slice(seen).find((x) => x.routers.some((r) => r.id === routerId && r.api === "failed")));
      expect(st.routers.find((r) => r.id === routerId)).toMatchObject({ api: "failed", reconciledAt: expect.any(String), lastSeenAt: expect.any(String) });
    } finally {
      await setRouter({ api_kind: "none", api_password: "s3cret" });
    }
  });
});
