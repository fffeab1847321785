// Enforcement over TLS to the router (issue 4): a CoA NAK falls back to the RouterOS API
// over api-ssl and to REST over https, each verified by the router's pinned certificate
// fingerprint (routers.api_tls / tls_fingerprint). A wrong pin is a `tls` failure that is
// escalated at once, not retried, and the router never sees the login.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeResponse } from "@isp/network/radius/auth";
import { decodePacket, PacketCode } from "@isp/network/radius/codec";
import { makeTestCertificate } from "@isp/network/routeros/test-cert";
import { RouterSimulator } from "@isp/network/simulator";
import { requestEnforcement, type EnforcementKind } from "@isp/db/outbox";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { createCollector, type Collector } from "./collector";
import { silentLogger } from "./log";
import { loopbackEndpoints } from "./test-collector";

const secret = "demo-secret-2026";
const dialled = 4;
// Test-only certificates, made by openssl now; the simulated router's says IP 127.0.0.2.
const routerCert = makeTestCertificate({ commonName: "sim-router", ips: ["127.0.0.2"] });
const otherCert = makeTestCertificate({ commonName: "impostor", ips: ["127.0.0.2"] });
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
let sim: RouterSimulator;
let routerId: number;
let subs: { id: number; username: string; password: string }[] = [];
let nakServer: UdpSocket;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Outcome {
  id: string;
  status: string;
  path: string | null;
  error_cause: number | null;
  error_code: string | null;
  escalated: boolean;
  attempts: number;
  last_error: string | null;
}

async function act(kind: EnforcementKind, subscriberId: number): Promise<Outcome> {
  const { actionId } = await requestEnforcement(db.prisma, { kind, subscriberId, operatorId: null, actor: "test" });
  return waitFor(`${kind} ${actionId}`, async () => {
    const r = await pool.query<Outcome>(
      "SELECT id::text, status::text, path::text, error_cause, error_code, escalated, attempts, last_error FROM enforcement_outbox WHERE id = $1 AND completed_at IS NOT NULL",
      [actionId],
    );
    return r.rows[0];
  });
}

const simSession = (username: string) => sim.sessions().find((s) => s.username === username);
const setRouter = (fields: Record<string, string | number | boolean | null>) => {
  const keys = Object.keys(fields);
  return pool.query(`UPDATE routers SET ${keys.map((k, i) => `${k} = $${i + 2}`).join(", ")} WHERE id = $1`, [routerId, ...keys.map((k) => fields[k])]);
};
const sub = (i: number) => subs[i]!;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 10 });
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
    authSecret: "collector-tls-test-secret-0123456789",
    liveTickMs: 200,
    acctInterimIntervalS: 60,
    enforcement: { sweepIntervalMs: 200, backoffBaseMs: 100, backoffMaxMs: 200, adapterTimeoutMs: 2000 },
    reconcile: null,
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
    routerOsApi: { port: 0, tls: routerCert },
    routerOsRest: { port: 0, tls: routerCert },
    routerUsers: { enforcer: "s3cret" },
  });
  await sim.start();
  // A router whose CoA always NAKs 404, so every action falls back to the API/REST.
  nakServer = createSocket("udp4");
  nakServer.on("message", (msg, rinfo) => {
    const p = decodePacket(msg);
    const code = p.code === PacketCode.CoaRequest ? PacketCode.CoaNak : PacketCode.DisconnectNak;
    nakServer.send(encodeResponse({ code, identifier: p.identifier, requestAuthenticator: p.authenticator, attributes: [["Error-Cause", 404]], secret }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => nakServer.bind(0, "127.0.0.2", resolve));
  await setRouter({
    coa_port: nakServer.address().port,
    api_port: sim.apiBoundPort(),
    api_username: "enforcer",
    api_password: "s3cret",
    rest_url: `https://127.0.0.2:${sim.restBoundPort()}`,
    api_tls: true,
    tls_fingerprint: routerCert.fingerprint,
  });
  await waitFor("every session in the database", async () => {
    const r = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM radius_sessions WHERE status = 'active' AND router_id = $1", [routerId]);
    return r.rows[0]!.n === dialled;
  });
}, 60_000);

afterAll(async () => {
  nakServer?.close();
  await sim?.stop({ sendStops: false });
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

describe("enforcement fallback over TLS", () => {
  it("CoA NAK -> the API over api-ssl with the pinned certificate ends the session", async () => {
    await setRouter({ api_kind: "api" });
    const r = await act("kick", sub(0).id);
    expect(r).toMatchObject({ status: "acked", path: "api", error_cause: 404, escalated: false });
    await waitFor("API removal ends the session", () => !simSession(sub(0).username));
  });

  it("CoA NAK -> REST over https with the pinned certificate", async () => {
    await setRouter({ api_kind: "rest" });
    const r = await act("kick", sub(1).id);
    expect(r).toMatchObject({ status: "acked", path: "rest", error_cause: 404, escalated: false });
    await waitFor("REST removal ends the session", () => !simSession(sub(1).username));
  });

  it("a wrong pin fails with the tls code at the first attempt, escalated, and the router sees no login", async () => {
    await setRouter({ api_kind: "api", tls_fingerprint: otherCert.fingerprint });
    const logins = sim.apiServerStats()!.logins;
    const removals = sim.stats().apiRemovals;
    const r = await act("kick", sub(2).id);
    expect(r).toMatchObject({ status: "failed", path: "api", error_code: "tls", escalated: true, attempts: 1 });
    expect(r.last_error).toContain("does not match the pinned");
    expect(simSession(sub(2).username)).toBeDefined();
    expect(sim.apiServerStats()!.logins).toBe(logins);
    expect(sim.stats().apiRemovals).toBe(removals);
  });

  it("the database refuses a malformed fingerprint", async () => {
    await expect(setRouter({ tls_fingerprint: "AB:CD" })).rejects.toThrow(/routers_tls_fingerprint_format/);
  });
});
