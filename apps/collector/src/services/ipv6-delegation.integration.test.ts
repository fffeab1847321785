// Dual stack through the whole collector, real PostgreSQL and real UDP: an Access-Accept
// carries the leased Delegated-IPv6-Prefix (or Framed-IPv6-Prefix) in RFC 3162 bytes, the
// session records it (from the lease, or as the NAS reports it), Stop and Accounting-On
// release it, a re-dial gets the same prefix back, a full IPv6 pool still lets the
// customer on with IPv4, a walled-garden session gets no IPv6, a NAS without IPv6 pools
// costs no IPv6 query, and FreeRADIUS's radclient decodes the prefix we send.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recentAuthAttempts } from "@isp/db/auth-log";
import { createPool } from "@isp/db/ip-pools";
import { createIpv6Pool, whoHadPrefix } from "@isp/db/ipv6-pools";
import { DEMO_NAS, DEMO_SUBSCRIBER, seed } from "@isp/db/seed";
import { DEV_SECRETS_KEY } from "@isp/db/secrets";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { RadiusClient } from "@isp/network/radius/client";
import { describeAttributes, getBuffer, PacketCode, type AttributeList } from "@isp/network/radius/codec";
import { createCollector, type Collector } from "../collector";
import { createLogger, silentLogger } from "../log";
import { createAuthLogWriter } from "./auth-log-writer";
import { createAuthService } from "./auth-service";
import { createRouterCache, createSubscriberCache, createUsageCache } from "./caches";
import { loopbackEndpoints } from "../test-collector";

const SECRET = DEMO_NAS.secret;
const V6 = "127.0.0.31"; // MikroTik with an IPv4 pool and a delegated-prefix pool
const TINY = "127.0.0.32"; // a 'framed' pool of two /64s, no IPv4 pool
const V4ONLY = "127.0.0.33"; // no IPv6 pool at all
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
const routerIds: Record<string, number> = {};
const subIds: Record<string, number> = {};

async function addSubscriber(username: string): Promise<void> {
  const r = await pool.query<{ id: number }>(
    `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password)
     VALUES ($1, $1, '0300', '1', 'x', 'Lahore', (SELECT id FROM plans WHERE code = 'BASIC-8'), $1, 'pw-' || $1) RETURNING id`,
    [username],
  );
  subIds[username] = r.rows[0]!.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 3 });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on("error", () => undefined);
  for (const ip of [V6, TINY, V4ONLY]) {
    await pool.query("INSERT INTO routers (name, ip_address, vendor, radius_secret) VALUES ($1, $2::inet, 'mikrotik', $3)", [`BNG-${ip}`, ip, SECRET]);
  }
  for (const r of (await pool.query<{ id: number; ip: string }>("SELECT id, host(ip_address) AS ip FROM routers")).rows) routerIds[r.ip] = r.id;
  for (const u of ["v6_a", "v6_b", "v6_c", "t_1", "t_2", "t_3", "v4_only", "v6_static", "v6_static2"]) await addSubscriber(u);
  await pool.query("UPDATE subscribers SET static_ipv6_prefix = '2400:ee00:1::/48' WHERE id = $1", [subIds.v6_static]);
  await pool.query("UPDATE subscribers SET static_ipv6_prefix = '2400:ee00:2::/48' WHERE id = $1", [subIds.v6_static2]);
  await pool.query(
    `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, suspended_policy, walled_garden_address_list, walled_garden_download_kbps, walled_garden_upload_kbps)
     VALUES ('WG6', 'WG6', 10240, 2048, 1, 'walled_garden', 'unpaid', 128, 64)`,
  );
  await addSubscriber("v6_wg");
  await pool.query("UPDATE subscribers SET plan_id = (SELECT id FROM plans WHERE code = 'WG6'), status = 'suspended' WHERE id = $1", [subIds.v6_wg]);
  await createPool(pool, { name: "v6-bng-v4", network: "100.80.0.0/29", routerId: routerIds[V6] });
  await createIpv6Pool(pool, { name: "v6-bng-pd", network: "2400:abcd::/40", prefixLength: 56, routerId: routerIds[V6] });
  await createIpv6Pool(pool, { name: "tiny-wan", network: "2400:beef::/63", prefixLength: 64, kind: "framed", routerId: routerIds[TINY] });
  await createIpv6Pool(pool, { name: "demo-pd", network: "2400:cccc::/48", prefixLength: 56, routerId: routerIds[DEMO_NAS.ip] });

  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "collector-test-secret-0123456789",
    subscriberChangesPollMs: 60_000,
    acctInterimIntervalS: 300,
    staleSweepMs: 3_600_000,
    secretsKey: DEV_SECRETS_KEY,
    log: process.env.V6_DEBUG ? createLogger("warn") : silentLogger,
  });
  await collector.start();
});

afterAll(async () => {
  await Promise.all([...clients.values()].map((c) => c.close()));
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

const clients = new Map<string, RadiusClient>();
const client = (from: string) => {
  let c = clients.get(from);
  if (!c) clients.set(from, (c = new RadiusClient({ localAddress: from })));
  return c;
};

async function auth(from: string, username: string, password = `pw-${username}`) {
  const r = await client(from).request({
    host: "127.0.0.1",
    port: collector.ports.auth,
    secret: SECRET,
    code: PacketCode.AccessRequest,
    attributes: [["User-Name", username], ["User-Password", password]],
    timeoutMs: 2000,
    retries: 0,
  });
  if (!r.response) throw new Error(`no reply for ${username}`);
  const attrs = describeAttributes(r.response).filter(([n]) => n !== "Message-Authenticator");
  return { code: r.response.code, attrs: Object.fromEntries(attrs) as Record<string, unknown>, raw: r.response };
}

async function acct(from: string, status: string, username: string, sessionId: string, extra: AttributeList = []) {
  const r = await client(from).request({
    host: "127.0.0.1",
    port: collector.ports.acct,
    secret: SECRET,
    code: PacketCode.AccountingRequest,
    attributes: [["Acct-Status-Type", status], ["User-Name", username], ["Acct-Session-Id", sessionId], ...extra],
    timeoutMs: 2000,
    retries: 1,
    messageAuthenticator: false,
  });
  expect(r.response?.code).toBe(PacketCode.AccountingResponse);
}

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 4000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sessionPrefix = async (sessionId: string) =>
  (await pool.query<{ p: string | null }>("SELECT delegated_ipv6_prefix::text AS p FROM radius_sessions WHERE acct_session_id = $1", [sessionId])).rows[0]?.p;
const openLease = async (username: string) =>
  (await pool.query<{ prefix: string }>("SELECT prefix::text AS prefix FROM ipv6_leases WHERE subscriber_id = $1 AND closed_at IS NULL", [subIds[username]])).rows.map((r) => r.prefix);

async function lastReply(username: string) {
  await collector.internals.authLog!.flush();
  return (await recentAuthAttempts(pool, { username, limit: 1 }))[0]?.reply;
}

describe("IPv6 prefix delegation on Access-Accept", () => {
  it("a dual-stack Accept: Framed-IP-Address and Delegated-IPv6-Prefix, in RFC 3162 bytes; the auth log names the prefix", async () => {
    const a = await auth(V6, "v6_a");
    expect(a.code).toBe(PacketCode.AccessAccept);
    expect(a.attrs["Framed-IP-Address"]).toBe("100.80.0.1");
    expect(a.attrs["Delegated-IPv6-Prefix"]).toBe("2400:abcd::/56");
    expect(a.attrs["Framed-IPv6-Prefix"]).toBeUndefined();
    // reserved 0, length 56, seven prefix octets
    expect(getBuffer(a.raw, "Delegated-IPv6-Prefix")!.toString("hex")).toBe("0038" + "2400abcd000000");
    expect(await lastReply("v6_a")).toMatch(/ip=100\.80\.0\.1 .*pd=2400:abcd::\/56$/);
    const b = await auth(V6, "v6_b");
    expect(b.attrs["Delegated-IPv6-Prefix"]).toBe("2400:abcd:0:100::/56");
  });

  it("the session records the leased prefix; Stop releases it; the re-dial gets the same prefix back", async () => {
    await acct(V6, "Start", "v6_a", "A-1", [["Framed-IP-Address", "100.80.0.1"]]);
    expect(await waitFor(() => sessionPrefix("A-1"))).toBe("2400:abcd::/56");
    await new Promise((r) => setTimeout(r, 20));
    const during = new Date();
    await new Promise((r) => setTimeout(r, 20));
    // Another subscriber dials meanwhile: it must not get v6_a's prefix.
    const c = await auth(V6, "v6_c");
    expect(c.attrs["Delegated-IPv6-Prefix"]).toBe("2400:abcd:0:200::/56");
    await acct(V6, "Stop", "v6_a", "A-1", [["Framed-IP-Address", "100.80.0.1"], ["Acct-Session-Time", 60]]);
    await waitFor(async () => (await openLease("v6_a")).length === 0);
    const holder = await whoHadPrefix(pool, "2400:abcd::/56", during);
    expect(holder.map((h) => [h.subscriberId, h.source]).sort()).toEqual([
      [subIds.v6_a, "lease"],
      [subIds.v6_a, "session"],
    ]);
    const again = await auth(V6, "v6_a");
    expect(again.attrs["Delegated-IPv6-Prefix"]).toBe("2400:abcd::/56");
    const rows = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM ipv6_leases WHERE subscriber_id = $1", [subIds.v6_a]);
    expect(rows.rows[0]!.n).toBe(2); // the closed lease and the sticky new one
  });

  it("a prefix the NAS reports in accounting is recorded as reported, and answers the compliance lookup", async () => {
    await acct(V6, "Start", "v6_b", "B-1", [["Delegated-IPv6-Prefix", "2400:dddd:12:3400::/56"]]);
    expect(await waitFor(() => sessionPrefix("B-1"))).toBe("2400:dddd:12:3400::/56");
    const who = await whoHadPrefix(pool, "2400:dddd:12:34ff::1", new Date());
    expect(who.map((h) => [h.username, h.acctSessionId, h.routerId])).toEqual([["v6_b", "B-1", routerIds[V6]]]);
  });

  it("Accounting-On (NAS reboot) releases the prefixes of the sessions it closes", async () => {
    await acct(V6, "Start", "v6_c", "C-1", [["Framed-IP-Address", "100.80.0.3"]]);
    expect(await waitFor(() => sessionPrefix("C-1"))).toBe("2400:abcd:0:200::/56");
    expect(await openLease("v6_c")).toEqual(["2400:abcd:0:200::/56"]);
    await new Promise((r) => setTimeout(r, 20));
    await acct(V6, "Accounting-On", "", "");
    await waitFor(async () => (await openLease("v6_c")).length === 0);
    const r = await pool.query<{ reason: string }>("SELECT close_reason AS reason FROM ipv6_leases WHERE subscriber_id = $1", [subIds.v6_c]);
    expect(r.rows.map((x) => x.reason)).toEqual(["stop"]);
  });

  it("a 'framed' pool answers Framed-IPv6-Prefix; when it is full the customer is still accepted with IPv4 only", async () => {
    const one = await auth(TINY, "t_1");
    const two = await auth(TINY, "t_2");
    expect([one.attrs["Framed-IPv6-Prefix"], two.attrs["Framed-IPv6-Prefix"]]).toEqual(["2400:beef::/64", "2400:beef:0:1::/64"]);
    expect(one.attrs["Delegated-IPv6-Prefix"]).toBeUndefined();
    const three = await auth(TINY, "t_3");
    expect(three.code).toBe(PacketCode.AccessAccept);
    expect(three.attrs["Framed-IPv6-Prefix"]).toBeUndefined();
    expect(three.attrs["Delegated-IPv6-Prefix"]).toBeUndefined();
    expect(await lastReply("t_3")).toMatch(/pd=none$/);
    expect(await lastReply("t_1")).toMatch(/v6=2400:beef::\/64$/);
  });

  it("a walled-garden session gets no IPv6 (the garden is an IPv4 list); a NAS without IPv6 pools gets none", async () => {
    const wg = await auth(V6, "v6_wg");
    expect(wg.code).toBe(PacketCode.AccessAccept);
    expect(wg.attrs["Mikrotik-Address-List"]).toBe("unpaid");
    expect(wg.attrs["Delegated-IPv6-Prefix"]).toBeUndefined();
    expect(await openLease("v6_wg")).toEqual([]);
    const v4 = await auth(V4ONLY, "v4_only");
    expect(v4.code).toBe(PacketCode.AccessAccept);
    expect(v4.attrs["Delegated-IPv6-Prefix"]).toBeUndefined();
    expect(await openLease("v4_only")).toEqual([]);
    expect(await lastReply("v4_only")).not.toMatch(/pd=/);
  });

  it("a static prefix is answered on any NAS without a lease, and recorded on the session", async () => {
    const onPools = await auth(V6, "v6_static2"); // a NAS with IPv6 pools: the static prefix, no lease
    expect(onPools.attrs["Delegated-IPv6-Prefix"]).toBe("2400:ee00:2::/48");
    expect(await openLease("v6_static2")).toEqual([]);
    const r = await auth(V4ONLY, "v6_static"); // a NAS without any
    expect(r.attrs["Delegated-IPv6-Prefix"]).toBe("2400:ee00:1::/48");
    await acct(V4ONLY, "Start", "v6_static", "S-1");
    expect(await waitFor(() => sessionPrefix("S-1"))).toBe("2400:ee00:1::/48");
    await acct(V4ONLY, "Stop", "v6_static", "S-1", [["Acct-Session-Time", 5]]);
  });

  it("IPv6 costs queries only where IPv6 pools are: none on a NAS without, one on a NAS with", async () => {
    const authPool = new pg.Pool({ connectionString: db.url, max: 2 });
    const seen: string[] = [];
    const query = authPool.query.bind(authPool) as (...args: unknown[]) => unknown;
    authPool.query = ((...args: unknown[]) => {
      if (typeof args[0] === "string") seen.push(args[0]);
      return query(...args);
    }) as typeof authPool.query;
    try {
      const routers = createRouterCache(pool);
      await routers.load();
      const subscribers = createSubscriberCache(pool, silentLogger);
      await subscribers.load();
      const svc = createAuthService({
        pool: authPool,
        routers,
        subscribers,
        usage: createUsageCache(pool),
        authLog: { push: () => undefined } as unknown as ReturnType<typeof createAuthLogWriter>,
        secretsKey: DEV_SECRETS_KEY,
        counters: { authAccepts: 0, authRejects: 0, rejectsByReason: {} },
        markSeen: () => undefined,
        policy: { acctInterimIntervalS: 60, sessionTimeoutS: null, suspendedPolicyDefault: "reject", walledGarden: { addressList: "wg", downloadKbps: 1, uploadKbps: 1 } },
        log: silentLogger,
      });
      await svc.reloadPools();
      const dial = (nas: string, user: string) =>
        svc.handle({ sourceIp: nas, userName: user, method: "pap", credentialMatches: (clear) => clear === `pw-${user}`, callingStationId: null });
      seen.length = 0;
      const v4 = await dial(V4ONLY, "v4_only");
      expect(v4.code).toBe("accept");
      expect(seen.filter((q) => q.includes("ipv6"))).toEqual([]);
      seen.length = 0;
      const v6 = await dial(V6, "v6_b");
      expect(v6.attributes.find((a) => a.name === "Delegated-IPv6-Prefix")?.value).toBe("2400:abcd:0:100::/56");
      expect(seen.filter((q) => q.includes("ipv6"))).toHaveLength(1);
    } finally {
      await authPool.end();
    }
  });
});

const RADCLIENT = "/usr/bin/radclient";
describe.skipIf(!existsSync(RADCLIENT))("radclient", () => {
  it("FreeRADIUS's radclient prints the Delegated-IPv6-Prefix of our Accept", async () => {
    const out = await new Promise<string>((resolve) => {
      const child = execFile(RADCLIENT, ["-x", "-r", "1", "-t", "3", `127.0.0.1:${collector.ports.auth}`, "auth", SECRET], { timeout: 10_000 }, (_e, stdout, stderr) =>
        resolve(stdout + stderr),
      );
      child.stdin!.end(`User-Name = "${DEMO_SUBSCRIBER.username}", User-Password = "${DEMO_SUBSCRIBER.password}", Message-Authenticator = 0x00\n`);
    });
    expect(out).toMatch(/Received Access-Accept/);
    expect(out).toMatch(/Delegated-IPv6-Prefix = 2400:cccc::\/56/);
  });
});
