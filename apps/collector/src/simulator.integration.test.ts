// End to end on loopback: a RouterSimulator playing router LHE-BNG-01 (127.0.0.2) dials
// seeded subscribers against the collector; accounting lands in PostgreSQL, the NOC wall
// (a socket.io client with a real token) sees them come online, and a Disconnect from
// the outbox reaches the simulator and comes back confirmed.
import { SignJWT } from "jose";
import pg from "pg";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouterSimulator } from "@isp/network/simulator";
import { requestEnforcement } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import type { EnforcementResultEvent, NocState } from "./services/live-hub";
import { silentLogger } from "./log";
import { loopbackEndpoints } from "./test-collector";

const authSecret = "collector-sim-test-secret-0123456789";
const dialled = 20;
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
let sim: RouterSimulator;
let socket: Socket;
let routerId: number;
const nocStates: NocState[] = [];
const results: EnforcementResultEvent[] = [];
let subs: { id: number; username: string; password: string }[] = [];

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 50 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  routerId = (await pool.query<{ id: number }>("SELECT id FROM routers WHERE host(ip_address) = '127.0.0.2'")).rows[0]!.id;
  subs = (
    await pool.query<{ id: number; username: string; password: string }>(
      "SELECT id, pppoe_username AS username, pppoe_password AS password FROM subscribers WHERE status = 'active' ORDER BY id LIMIT $1",
      [dialled + 1],
    )
  ).rows;
  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret,
    acctInterimIntervalS: 60,
    enforcement: { sweepIntervalMs: 500 },
    coa: { timeoutMs: 1000, retries: 1 },
    log: silentLogger,
  });
  await collector.start();

  const token = await new SignJWT({ role: "noc" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("1")
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(authSecret));
  socket = connect(`http://127.0.0.1:${collector.ports.live}`, { auth: { token }, transports: ["websocket"], reconnection: false });
  socket.on("noc:state", (s: NocState) => nocStates.push(s));
  socket.on("enforcement:result", (e: EnforcementResultEvent) => results.push(e));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  const ack = await new Promise<{ ok: boolean }>((resolve) => socket.emit("subscribe:noc", resolve));
  expect(ack.ok).toBe(true);
  await waitFor("first noc:state", () => nocStates.length > 0);

  sim = new RouterSimulator({
    nasIp: "127.0.0.2",
    secret: "demo-secret-2026",
    serverHost: "127.0.0.1",
    authPort: collector.ports.auth,
    acctPort: collector.ports.acct,
    coaPort: 0,
    subscribers: subs.slice(0, dialled).map((s) => ({ username: s.username, password: s.password })),
    interimIntervalMs: 1000,
    connectPerSecond: 6,
    chapRatio: 0.5,
    highCounterRatio: 0.5,
    seed: 42,
  });
  await sim.start();
  // The router's CoA port in the database is where the worker sends Disconnects.
  await pool.query("UPDATE routers SET coa_port = $1 WHERE id = $2", [sim.coaBoundPort(), routerId]);
}, 60_000);

afterAll(async () => {
  socket?.close();
  await sim?.stop({ sendStops: false });
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

describe("collector with a simulated router", () => {
  it("the NOC wall sees `online` grow as the simulator connects", async () => {
    await waitFor("all sessions in the database", async () => {
      const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active' AND router_id = $1", [routerId]);
      return r.rows[0]!.n === dialled;
    });
    await waitFor("noc:state with everyone online", () => nocStates.some((s) => s.online === dialled), 5000);
    const seen = nocStates.map((s) => s.online);
    expect(seen[0]).toBeLessThan(dialled);
    // The ramp is visible as intermediate values, never going down.
    expect(new Set(seen).size).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    const last = nocStates.at(-1)!;
    expect(last.routers.find((r) => r.id === routerId)).toMatchObject({ name: "LHE-BNG-01", online: dialled });
    expect(last.newest.length).toBe(15);
    expect(last.newest[0]!.routerName).toBe("LHE-BNG-01");
    expect(last.counters.authAccepts).toBeGreaterThanOrEqual(dialled);
  });

  it("interim updates land with 64-bit octets; usage deltas add up to the session totals", async () => {
    await waitFor("interims from every session", async () => {
      const r = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM radius_sessions WHERE router_id = $1 AND status = 'active' AND session_time_s >= 2",
        [routerId],
      );
      return r.rows[0]!.n === dialled;
    });
    const rows = (
      await pool.query<{ subscriber_id: number; acct_session_id: string; input_octets: string; output_octets: string; output_bps: string }>(
        "SELECT subscriber_id, acct_session_id, input_octets::text, output_octets::text, output_bps::text FROM radius_sessions WHERE router_id = $1 AND status = 'active'",
        [routerId],
      )
    ).rows;
    expect(rows).toHaveLength(dialled);
    expect(rows.some((r) => BigInt(r.output_octets) > 2n ** 32n)).toBe(true); // gigawords combined
    expect(rows.every((r) => BigInt(r.output_bps) > 0n)).toBe(true);
    const simById = new Map(sim.sessions().map((s) => [s.acctSessionId, s]));
    for (const r of rows) {
      const s = simById.get(r.acct_session_id)!;
      expect(s).toBeDefined();
      // The database has what the router last reported: never more than the router's counter.
      expect(BigInt(r.output_octets)).toBeLessThanOrEqual(s.outputOctets);
    }
    const sample = rows[0]!;
    const usage = await pool.query<{ i: string; o: string }>(
      "SELECT sum(input_octets)::text AS i, sum(output_octets)::text AS o FROM subscriber_usage WHERE subscriber_id = $1 AND router_id = $2",
      [sample.subscriber_id, routerId],
    );
    expect(usage.rows[0]).toEqual({ i: sample.input_octets, o: sample.output_octets });
    const records = await pool.query<{ status_type: number; n: number }>(
      "SELECT status_type, count(*)::int AS n FROM accounting_records WHERE router_id = $1 GROUP BY status_type ORDER BY status_type",
      [routerId],
    );
    expect(records.rows.find((r) => r.status_type === 1)?.n).toBe(dialled);
    expect(records.rows.find((r) => r.status_type === 3)?.n).toBeGreaterThanOrEqual(dialled);
  });

  it("a Disconnect from the outbox reaches the router, its ACK is recorded and pushed live", async () => {
    const target = subs[3]!;
    const stopped = new Promise<string>((resolve) => sim.once("session-stop", (s) => resolve(s.username)));
    const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: target.id, operatorId: null, actor: "test", reason: "unpaid" });
    const event = await waitFor("enforcement:result", () => results.find((e) => e.actionId === actionId), 5000);
    expect(event).toMatchObject({ subscriberId: target.id, kind: "disconnect", status: "acked", errorCause: null });
    expect(event.routerLatencyMs).toBeGreaterThanOrEqual(0);
    expect(event.totalLatencyMs).toBeLessThan(3000);
    expect(await stopped).toBe(target.username);
    const row = (await pool.query("SELECT status::text, router_latency_ms, total_latency_ms, completed_at FROM enforcement_outbox WHERE id = $1", [actionId])).rows[0];
    expect(row.status).toBe("acked");
    expect(row.router_latency_ms).not.toBeNull();
    expect(row.completed_at).not.toBeNull();
    // The router's own Accounting Stop closes the session.
    await waitFor("session stopped", async () => {
      const r = await pool.query<{ status: string }>("SELECT status::text FROM radius_sessions WHERE subscriber_id = $1 ORDER BY started_at DESC LIMIT 1", [target.id]);
      return r.rows[0]?.status === "stopped";
    });
  });

  it("a session the router does not know -> NAK 503, recorded, and our stale session closed", async () => {
    const ghost = subs[dialled]!; // never dialled
    await pool.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, started_at, last_update_at)
       VALUES ($1, 'GHOST-1', $2, $3, 'active', now(), now())`,
      [routerId, ghost.id, ghost.username],
    );
    const { actionId } = await requestEnforcement(db.prisma, { kind: "disconnect", subscriberId: ghost.id, operatorId: null, actor: "test" });
    const event = await waitFor("enforcement:result", () => results.find((e) => e.actionId === actionId), 5000);
    expect(event).toMatchObject({ status: "nak", errorCause: 503 });
    const row = (await pool.query("SELECT status::text, error_cause FROM enforcement_outbox WHERE id = $1", [actionId])).rows[0];
    expect(row).toEqual({ status: "nak", error_cause: 503 });
    const s = (await pool.query("SELECT status::text FROM radius_sessions WHERE acct_session_id = 'GHOST-1'")).rows[0];
    expect(s).toEqual({ status: "stopped" });
  });

  it("a hang-up (Accounting Stop) closes the session with its cause", async () => {
    const target = subs[5]!;
    expect(await sim.hangUp(target.username)).toBe(true);
    await waitFor("stop recorded", async () => {
      const r = await pool.query<{ status: string; terminate_cause: string | null }>(
        "SELECT status::text, terminate_cause FROM radius_sessions WHERE subscriber_id = $1 ORDER BY started_at DESC LIMIT 1",
        [target.id],
      );
      return r.rows[0]?.status === "stopped" && r.rows[0].terminate_cause === "User-Request";
    });
  });
});
