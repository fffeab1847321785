// The collector's authentication against a real PostgreSQL and real UDP: every policy
// state, MAC binding, simultaneous use, pool allocation and exhaustion, per-vendor
// replies, MS-CHAPv2 with MPPE keys, BlastRADIUS drops, cache invalidation by NOTIFY, and
// the auth log with its precise reasons. Interop: FreeRADIUS's radtest for PAP, CHAP and
// MS-CHAPv2.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recentAuthAttempts } from "@isp/db/auth-log";
import { createPool } from "@isp/db/ip-pools";
import { createKeyring, decryptSecret, DEV_SECRETS_KEY, encryptSecret, reencryptSecrets, secretKeyIdOf, secretsKeyId } from "@isp/db/secrets";
import { DEMO_NAS, seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { chapPassword, encodeRequest, verifyResponseAuthenticator } from "@isp/network/radius/auth";
import { RadiusClient } from "@isp/network/radius/client";
import { decodePacket, describeAttributes, getBuffer, PacketCode, type AttributeList, type RadiusPacket } from "@isp/network/radius/codec";
import { decryptMppeKey, generateAuthenticatorResponse, generateNtResponse, getAsymmetricStartKey, getMasterKey, hashNtPasswordHash, ntPasswordHash } from "@isp/network/radius/mschap";
import { createCollector, type Collector } from "../collector";
import { silentLogger } from "../log";
import { loopbackEndpoints } from "../test-collector";

const run = promisify(execFile);
const SECRET = DEMO_NAS.secret;
let db: TestDatabase;
let pool: pg.Pool;
let collector: Collector;
const routerIds: Record<string, number> = {};
// Key rotation: the collector's current key is the dev key; PREVIOUS_KEY only decrypts.
const PREVIOUS_KEY = Buffer.alloc(32, 0x5a);
const keyring = createKeyring(DEV_SECRETS_KEY, [PREVIOUS_KEY]);

async function addSubscriber(username: string, planCode: string, extra: Record<string, unknown> = {}): Promise<number> {
  const cols = ["account_no", "name", "phone", "cnic", "address", "city", "plan_id", "pppoe_username", "pppoe_password", ...Object.keys(extra)];
  const vals = [`T-${username}`, username, "0300", "1", "x", "Karachi", `(SELECT id FROM plans WHERE code = '${planCode}')`, username, `pw-${username}`, ...Object.values(extra)];
  const params = vals.map((v, i) => (i === 6 ? (v as string) : `$${i + 1 - (i > 6 ? 1 : 0)}`));
  const r = await pool.query<{ id: number }>(
    `INSERT INTO subscribers (${cols.join(", ")}) VALUES (${params.join(", ")}) RETURNING id`,
    vals.filter((_, i) => i !== 6),
  );
  return r.rows[0]!.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  pool.on("error", () => undefined);
  await pool.query("INSERT INTO routers (name, ip_address, vendor, radius_secret) VALUES ('JNP-BNG-01', '127.0.0.4', 'juniper', $1)", [SECRET]);
  await pool.query("INSERT INTO routers (name, ip_address, vendor, radius_secret) VALUES ('POOL-BNG', '127.0.0.6', 'mikrotik', $1)", [SECRET]);
  // radtest signs only MS-CHAP requests; this router is the one radtest reaches.
  await pool.query("UPDATE routers SET require_message_authenticator = false WHERE host(ip_address) = '127.0.0.1'");
  for (const r of (await pool.query<{ id: number; ip: string }>("SELECT id, host(ip_address) AS ip FROM routers")).rows) routerIds[r.ip] = r.id;
  await pool.query(
    `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, fup_quota_bytes, fup_download_kbps, fup_upload_kbps) VALUES ('FUP', 'FUP', 10240, 2048, 1, 1000, 1024, 512)`,
  );
  await pool.query(
    `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, suspended_policy, walled_garden_address_list, walled_garden_download_kbps, walled_garden_upload_kbps)
     VALUES ('WG', 'WG', 10240, 2048, 1, 'walled_garden', 'unpaid', 128, 64)`,
  );
  await pool.query(
    `INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa, burst_download_kbps, burst_upload_kbps, burst_threshold_download_kbps, burst_threshold_upload_kbps, burst_time_s, idle_timeout_s)
     VALUES ('BURST', 'BURST', 8192, 2048, 1, 16384, 4096, 6144, 1536, 8, 900)`,
  );
  await addSubscriber("u_active", "BASIC-8");
  await addSubscriber("u_burst", "BURST");
  await addSubscriber("u_term", "BASIC-8", { status: "terminated" });
  await addSubscriber("u_susp", "BASIC-8", { status: "suspended" });
  await addSubscriber("u_wg", "WG", { status: "suspended" });
  const fup = await addSubscriber("u_fup", "FUP");
  await pool.query("INSERT INTO subscriber_usage (time, subscriber_id, router_id, input_octets, output_octets) VALUES (now(), $1, 1, 600, 600)", [fup]);
  await addSubscriber("u_mac", "BASIC-8", { bound_mac: "aa:bb:cc:dd:ee:01" });
  await addSubscriber("u_learn", "BASIC-8", { mac_learn: true });
  const simul = await addSubscriber("u_simul", "BASIC-8");
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, calling_station_id, started_at, last_update_at)
     VALUES ($1, 'OPEN-1', $2, 'u_simul', 'AA:BB:CC:00:00:09', now(), now())`,
    [routerIds["127.0.0.2"], simul],
  );
  await addSubscriber("u_expired", "BASIC-8", { expires_at: new Date(Date.now() - 60_000) });
  await addSubscriber("u_prepaid", "BASIC-8", { expires_at: new Date(Date.now() + 3_600_000) });
  for (const u of ["u_pool1", "u_pool2", "u_pool3"]) await addSubscriber(u, "BASIC-8");
  await addSubscriber("u_ms", "BASIC-8");
  await addSubscriber("u_cisco", "BASIC-8");
  // One subscriber per NAS below: a recent Accept on another NAS counts as a session.
  await addSubscriber("u_jnp", "BASIC-8");
  await addSubscriber("u_wg2", "WG", { status: "suspended" });
  await addSubscriber("u_new", "BASIC-8");
  await addSubscriber("u_rt", "BASIC-8");
  await addSubscriber("u_twice", "BASIC-8");
  await createPool(pool, { name: "r6-pool", network: "100.70.0.0/30", routerId: routerIds["127.0.0.6"] });

  collector = createCollector({
    ...loopbackEndpoints(db.url),
    authSecret: "collector-test-secret-0123456789",
    subscriberChangesPollMs: 60_000, // invalidation must come from NOTIFY in these tests
    acctInterimIntervalS: 300,
    staleSweepMs: 3_600_000,
    secretsKey: keyring,
    secretsRotateMs: 3_600_000, // the rotation test runs the sweep itself
    log: silentLogger,
  });
  await collector.start();
});

afterAll(async () => {
  await collector?.stop();
  await pool?.end();
  await db?.drop();
});

const clients = new Map<string, RadiusClient>();
afterAll(async () => {
  await Promise.all([...clients.values()].map((c) => c.close()));
});

async function auth(from: string, username: string, password: string, extra: AttributeList = []): Promise<{ code: number; attrs: Array<[string, unknown]> }> {
  // Auth log times have millisecond resolution: keep attempts apart so "newest" is defined.
  await new Promise((r) => setTimeout(r, 2));
  let c = clients.get(from);
  if (!c) clients.set(from, (c = new RadiusClient({ localAddress: from })));
  const r = await c.request({
    host: "127.0.0.1",
    port: collector.ports.auth,
    secret: SECRET,
    code: PacketCode.AccessRequest,
    attributes: [["User-Name", username], ["User-Password", password], ...extra],
    timeoutMs: 1000,
    retries: 0,
  });
  if (!r.response) throw new Error(`no reply for ${username} from ${from}`);
  return { code: r.response.code, attrs: describeAttributes(r.response).filter(([n]) => n !== "Message-Authenticator") };
}

const attr = (attrs: Array<[string, unknown]>, name: string) => attrs.find(([n]) => n === name)?.[1];

async function lastAttempt(username: string) {
  await collector.internals.authLog!.flush();
  return (await recentAuthAttempts(pool, { username, limit: 1 }))[0];
}

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 3000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("passwords at rest", () => {
  it("the collector encrypted every plain-text password at start", async () => {
    const r = await pool.query<{ plain: number; enc: string }>(
      "SELECT (SELECT count(*)::int FROM subscribers WHERE pppoe_password IS NOT NULL) AS plain, (SELECT pppoe_password_enc FROM subscribers WHERE pppoe_username = 'u_active') AS enc",
    );
    expect(r.rows[0]!.plain).toBe(0);
    expect(decryptSecret(DEV_SECRETS_KEY, r.rows[0]!.enc)).toBe("pw-u_active");
  });
});

describe("policy per subscriber state (PAP, MikroTik NAS 127.0.0.2)", () => {
  it("active: the plan's Mikrotik-Rate-Limit, interim interval; auth log 'ok'", async () => {
    const r = await auth("127.0.0.2", "u_active", "pw-u_active");
    expect(r.code).toBe(PacketCode.AccessAccept);
    expect(attr(r.attrs, "Mikrotik-Rate-Limit")).toBe("2M/8M");
    expect(attr(r.attrs, "Acct-Interim-Interval")).toBe(300);
    expect(await lastAttempt("u_active")).toMatchObject({ result: "accept", reason: "ok", method: "pap", routerName: "LHE-BNG-01", nasIp: "127.0.0.2" });
  });

  it("burst and idle timeout from the plan", async () => {
    const r = await auth("127.0.0.2", "u_burst", "pw-u_burst");
    expect(attr(r.attrs, "Mikrotik-Rate-Limit")).toBe("2M/8M 4M/16M 1536k/6M 8/8");
    expect(attr(r.attrs, "Idle-Timeout")).toBe(900);
  });

  it("over the fair-usage quota: the throttled rate; auth log 'fup'", async () => {
    const r = await auth("127.0.0.2", "u_fup", "pw-u_fup");
    expect(r.code).toBe(PacketCode.AccessAccept);
    expect(attr(r.attrs, "Mikrotik-Rate-Limit")).toBe("512k/1M");
    expect(await lastAttempt("u_fup")).toMatchObject({ result: "accept", reason: "fup" });
  });

  it("suspended on a walled-garden plan: accepted into the address list at the low rate", async () => {
    const r = await auth("127.0.0.2", "u_wg", "pw-u_wg");
    expect(r.code).toBe(PacketCode.AccessAccept);
    expect(attr(r.attrs, "Mikrotik-Address-List")).toBe("unpaid");
    expect(attr(r.attrs, "Mikrotik-Rate-Limit")).toBe("64k/128k");
    expect(await lastAttempt("u_wg")).toMatchObject({ result: "accept", reason: "walled_garden" });
  });

  it.each([
    ["u_susp", "pw-u_susp", "suspended", "Account suspended"],
    ["u_term", "pw-u_term", "terminated", "Account terminated"],
    ["u_expired", "pw-u_expired", "expired", "Account expired"],
    ["u_active", "wrong", "wrong_password", "Wrong password"],
    ["nobody", "x", "unknown_user", "Unknown user"],
    ["u_simul", "pw-u_simul", "simultaneous_use", "Already logged in"],
  ])("%s (password %s) -> Access-Reject, auth log reason %s", async (user, pw, reason, message) => {
    const r = await auth("127.0.0.2", user, pw);
    expect(r.code).toBe(PacketCode.AccessReject);
    expect(attr(r.attrs, "Reply-Message")).toBe(message);
    expect(await lastAttempt(user)).toMatchObject({ result: "reject", reason, username: user });
  });

  it("prepaid: Session-Timeout ends the session at expiry", async () => {
    const r = await auth("127.0.0.2", "u_prepaid", "pw-u_prepaid");
    expect(r.code).toBe(PacketCode.AccessAccept);
    const t = attr(r.attrs, "Session-Timeout") as number;
    expect(t).toBeGreaterThan(3500);
    expect(t).toBeLessThanOrEqual(3600);
  });

  it("simultaneous use: two devices dialling at the same moment, before any Accounting-Start: one Accept", async () => {
    const [a, b] = await Promise.all([
      auth("127.0.0.2", "u_twice", "pw-u_twice", [["Calling-Station-Id", "aa:bb:cc:00:00:01"]]),
      auth("127.0.0.3", "u_twice", "pw-u_twice", [["Calling-Station-Id", "aa:bb:cc:00:00:02"]]),
    ]);
    expect([a.code, b.code].sort()).toEqual([PacketCode.AccessAccept, PacketCode.AccessReject].sort());
    // The accepted device may re-dial (a retry after a failed PPP negotiation).
    const winner = a.code === PacketCode.AccessAccept ? ["127.0.0.2", "aa:bb:cc:00:00:01"] : ["127.0.0.3", "aa:bb:cc:00:00:02"];
    expect((await auth(winner[0]!, "u_twice", "pw-u_twice", [["Calling-Station-Id", winner[1]!]])).code).toBe(PacketCode.AccessAccept);
  });

  it("simultaneous use: the same device re-dialling the same NAS replaces its session", async () => {
    const r = await auth("127.0.0.2", "u_simul", "pw-u_simul", [["Calling-Station-Id", "AA:BB:CC:00:00:09"]]);
    expect(r.code).toBe(PacketCode.AccessAccept);
  });
});

describe("MAC binding (Calling-Station-Id)", () => {
  it("bound: the device passes in any spelling; another device is rejected with mac_mismatch", async () => {
    expect((await auth("127.0.0.2", "u_mac", "pw-u_mac", [["Calling-Station-Id", "AA-BB-CC-DD-EE-01"]])).code).toBe(PacketCode.AccessAccept);
    const r = await auth("127.0.0.2", "u_mac", "pw-u_mac", [["Calling-Station-Id", "AA:BB:CC:DD:EE:02"]]);
    expect(r.code).toBe(PacketCode.AccessReject);
    expect(await lastAttempt("u_mac")).toMatchObject({ result: "reject", reason: "mac_mismatch", callingStationId: "AA:BB:CC:DD:EE:02" });
  });

  it("learn on first login: the first device is bound, then another is refused", async () => {
    expect((await auth("127.0.0.2", "u_learn", "pw-u_learn", [["Calling-Station-Id", "aa:bb:cc:dd:ee:77"]])).code).toBe(PacketCode.AccessAccept);
    await waitFor(async () => (await pool.query("SELECT 1 FROM subscribers WHERE pppoe_username = 'u_learn' AND bound_mac = 'aa:bb:cc:dd:ee:77'")).rowCount);
    // The binding reaches the cache by NOTIFY (the poll is off in this file).
    await waitFor(async () => {
      await auth("127.0.0.2", "u_learn", "pw-u_learn", [["Calling-Station-Id", "aa:bb:cc:dd:ee:78"]]);
      return (await lastAttempt("u_learn"))?.reason === "mac_mismatch";
    });
  });
});

describe("IP pools", () => {
  it("leases distinct addresses from the NAS's pool, rejects with pool_exhausted when full, and Stop frees one", async () => {
    const a = await auth("127.0.0.6", "u_pool1", "pw-u_pool1");
    const b = await auth("127.0.0.6", "u_pool2", "pw-u_pool2");
    const ips = [attr(a.attrs, "Framed-IP-Address"), attr(b.attrs, "Framed-IP-Address")];
    expect(ips.sort()).toEqual(["100.70.0.1", "100.70.0.2"]);
    const c = await auth("127.0.0.6", "u_pool3", "pw-u_pool3");
    expect(c.code).toBe(PacketCode.AccessReject);
    expect(attr(c.attrs, "Reply-Message")).toBe("No address available");
    expect(await lastAttempt("u_pool3")).toMatchObject({ reason: "pool_exhausted" });

    // u_pool1's session starts and stops: its address goes back to the pool.
    const ip1 = attr(a.attrs, "Framed-IP-Address") as string;
    const acct = clients.get("127.0.0.6")!;
    for (const status of ["Start", "Stop"]) {
      const r = await acct.request({
        host: "127.0.0.1",
        port: collector.ports.acct,
        secret: SECRET,
        code: PacketCode.AccountingRequest,
        attributes: [["Acct-Status-Type", status], ["User-Name", "u_pool1"], ["Acct-Session-Id", "POOL-1"], ["Framed-IP-Address", ip1]],
        timeoutMs: 2000,
        retries: 1,
      });
      expect(r.response?.code).toBe(PacketCode.AccountingResponse);
    }
    await waitFor(async () => (await pool.query("SELECT 1 FROM ip_allocations WHERE host(ip) = $1 AND released_at IS NOT NULL", [ip1])).rowCount);
    const again = await auth("127.0.0.6", "u_pool3", "pw-u_pool3");
    expect(attr(again.attrs, "Framed-IP-Address")).toBe(ip1);
  });

  it("a NAS without database pools of its own gets no address from another NAS's pool", async () => {
    const r = await auth("127.0.0.3", "u_cisco", "pw-u_cisco");
    expect(attr(r.attrs, "Framed-IP-Address")).toBeUndefined();
  });
});

describe("per-vendor replies", () => {
  it("Cisco NAS (127.0.0.3): ISG policies in Cisco-AVPair", async () => {
    const r = await auth("127.0.0.3", "u_cisco", "pw-u_cisco");
    expect(r.code).toBe(PacketCode.AccessAccept);
    expect(r.attrs.filter(([n]) => n === "Cisco-AVPair").map(([, v]) => v)).toEqual([
      "subscriber:sub-qos-policy-in=RL-2048K",
      "subscriber:sub-qos-policy-out=RL-8192K",
    ]);
    expect(attr(r.attrs, "Mikrotik-Rate-Limit")).toBeUndefined();
  });

  it("Juniper NAS (127.0.0.4): ERX-Service-Activate; walled garden as Filter-Id", async () => {
    const r = await auth("127.0.0.4", "u_jnp", "pw-u_jnp");
    expect(attr(r.attrs, "ERX-Service-Activate")).toBe("svc-rate(8192000,2048000)");
    const wg = await auth("127.0.0.4", "u_wg2", "pw-u_wg2");
    expect(attr(wg.attrs, "Filter-Id")).toBe("unpaid");
    expect(attr(wg.attrs, "ERX-Service-Activate")).toBe("svc-rate(128000,64000)");
  });
});

describe("cache invalidation by NOTIFY", () => {
  it("a plan's new rate, a new router and a suspension apply without waiting for a poll", async () => {
    await pool.query("UPDATE plans SET download_kbps = 12288 WHERE code = 'BURST'");
    await waitFor(async () => attr((await auth("127.0.0.2", "u_burst", "pw-u_burst")).attrs, "Mikrotik-Rate-Limit") === "2M/12M 4M/16M 1536k/6M 8/8");

    await pool.query("INSERT INTO routers (name, ip_address, vendor, radius_secret) VALUES ('NEW-BNG', '127.0.0.5', 'mikrotik', $1)", [SECRET]);
    await waitFor(async () => collector.internals.routers!.byIp("127.0.0.5"));
    expect((await auth("127.0.0.5", "u_new", "pw-u_new")).code).toBe(PacketCode.AccessAccept);

    await createPool(pool, { name: "jnp-pool", network: "100.71.0.0/29", routerId: routerIds["127.0.0.4"] });
    await waitFor(async () => attr((await auth("127.0.0.4", "u_jnp", "pw-u_jnp")).attrs, "Framed-IP-Address") === "100.71.0.1");

    await pool.query("UPDATE subscribers SET status = 'suspended' WHERE pppoe_username = 'u_prepaid'");
    await waitFor(async () => (await auth("127.0.0.2", "u_prepaid", "pw-u_prepaid")).code === PacketCode.AccessReject);
  });
});

/** One Access-Request from 127.0.0.1 over a raw socket, so the test knows its authenticator. */
async function rawExchange(attributes: AttributeList, opts: { messageAuthenticator?: boolean; from?: string } = {}): Promise<{ reply: RadiusPacket | null; authenticator: Buffer }> {
  const { raw, authenticator } = encodeRequest({ code: PacketCode.AccessRequest, identifier: 42, secret: SECRET, attributes, messageAuthenticator: opts.messageAuthenticator ?? true });
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, opts.from ?? "127.0.0.1", () => r()));
  const got = new Promise<Buffer | null>((resolve) => {
    const t = setTimeout(() => resolve(null), 800);
    sock.once("message", (m) => {
      clearTimeout(t);
      resolve(m);
    });
  });
  sock.send(raw, collector.ports.auth, "127.0.0.1");
  const m = await got;
  sock.close();
  if (m) expect(verifyResponseAuthenticator(m, authenticator, SECRET)).toBe(true);
  return { reply: m ? decodePacket(m) : null, authenticator: Buffer.from(authenticator) };
}

describe("MS-CHAPv2", () => {
  const challenge = Buffer.from("5b5d7c7d7b3f2f3e3c2c602132262628", "hex");
  const peer = Buffer.from("21402324255e262a28295f2b3a337c7e", "hex");
  const msResponse = (password: string) =>
    Buffer.concat([Buffer.from([7, 0]), peer, Buffer.alloc(8), generateNtResponse(challenge, peer, "u_ms", password)]);

  it("Accept with MS-CHAP2-Success (the authenticator response) and MPPE keys the peer can derive", async () => {
    const { reply, authenticator } = await rawExchange([
      ["User-Name", "u_ms"],
      ["MS-CHAP-Challenge", challenge],
      ["MS-CHAP2-Response", msResponse("pw-u_ms")],
    ]);
    expect(reply?.code).toBe(PacketCode.AccessAccept);
    const ntResponse = generateNtResponse(challenge, peer, "u_ms", "pw-u_ms");
    const hh = hashNtPasswordHash(ntPasswordHash("pw-u_ms"));
    const expected = generateAuthenticatorResponse({ passwordHashHash: hh, ntResponse, peerChallenge: peer, authenticatorChallenge: challenge, username: "u_ms" });
    expect(getBuffer(reply!, "MS-CHAP2-Success")).toEqual(Buffer.concat([Buffer.from([7]), Buffer.from(expected, "ascii")]));
    const master = getMasterKey(hh, ntResponse);
    expect(decryptMppeKey(getBuffer(reply!, "MS-MPPE-Send-Key")!, SECRET, authenticator)).toEqual(getAsymmetricStartKey(master, true, true));
    expect(decryptMppeKey(getBuffer(reply!, "MS-MPPE-Recv-Key")!, SECRET, authenticator)).toEqual(getAsymmetricStartKey(master, false, true));
    const attrs = describeAttributes(reply!);
    expect(attr(attrs, "MS-MPPE-Encryption-Policy")).toBe(1);
    expect(attr(attrs, "MS-MPPE-Encryption-Types")).toBe(6);
    expect(await lastAttempt("u_ms")).toMatchObject({ result: "accept", method: "mschapv2" });
  });

  it("wrong password: Reject with MS-CHAP-Error E=691 carrying the ident", async () => {
    const { reply } = await rawExchange([
      ["User-Name", "u_ms"],
      ["MS-CHAP-Challenge", challenge],
      ["MS-CHAP2-Response", msResponse("nope")],
    ]);
    expect(reply?.code).toBe(PacketCode.AccessReject);
    const err = getBuffer(reply!, "MS-CHAP-Error")!;
    expect(err[0]).toBe(7);
    expect(err.subarray(1).toString("ascii")).toMatch(/^E=691 R=1 C=[0-9A-F]{32} V=3 M=/);
    expect(await lastAttempt("u_ms")).toMatchObject({ result: "reject", reason: "wrong_password", method: "mschapv2" });
  });
});

describe("BlastRADIUS drops reach the auth log", () => {
  it("no Message-Authenticator on a NAS that requires it; Proxy-State unsigned; a forged Message-Authenticator", async () => {
    const ep = collector.internals.authEndpoint!;
    const before = { missing: ep.counters.dropMissingMessageAuthenticator, proxy: ep.counters.dropProxyStateWithoutMessageAuthenticator };
    const unsigned = await rawExchange([["User-Name", "u_drop1"], ["User-Password", "x"]], { messageAuthenticator: false, from: "127.0.0.2" });
    expect(unsigned.reply).toBeNull();
    expect(await lastAttempt("u_drop1")).toMatchObject({ result: "drop", reason: "missing_message_authenticator", nasIp: "127.0.0.2" });

    // 127.0.0.1 does not require Message-Authenticator, but Proxy-State must be signed.
    const proxied = await rawExchange([["User-Name", "u_drop2"], ["User-Password", "x"], ["Proxy-State", Buffer.from("p1")]], { messageAuthenticator: false });
    expect(proxied.reply).toBeNull();
    expect(await lastAttempt("u_drop2")).toMatchObject({ result: "drop", reason: "proxy_state_without_message_authenticator" });
    expect(ep.counters.dropMissingMessageAuthenticator).toBe(before.missing + 1);
    expect(ep.counters.dropProxyStateWithoutMessageAuthenticator).toBe(before.proxy + 1);

    const forged = encodeRequest({ code: PacketCode.AccessRequest, identifier: 9, secret: "forger", attributes: [["User-Name", "u_drop3"], ["User-Password", "x"]] }).raw;
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    sock.send(forged, collector.ports.auth, "127.0.0.1");
    await waitFor(async () => (await lastAttempt("u_drop3"))?.reason === "bad_message_authenticator");
    sock.close();
  });
});

describe("support query", () => {
  it("recentAuthAttempts by subscriber id: newest first, bounded", async () => {
    const id = (await pool.query<{ id: number }>("SELECT id FROM subscribers WHERE pppoe_username = 'u_mac'")).rows[0]!.id;
    await collector.internals.authLog!.flush();
    const rows = await recentAuthAttempts(pool, { subscriberId: id, limit: 10 });
    expect(rows.map((r) => r.reason)).toEqual(["mac_mismatch", "ok"]);
    expect(rows[0]!.time.getTime()).toBeGreaterThanOrEqual(rows[1]!.time.getTime());
    expect(await recentAuthAttempts(pool, { subscriberId: id, limit: 1 })).toHaveLength(1);
  });
});

const hasRadtest = await run("sh", ["-c", "command -v radtest && command -v radclient"]).then(() => true, () => false);

describe.skipIf(!hasRadtest)("interop with FreeRADIUS radtest / radclient", () => {
  const radtest = async (method: string, user: string, password: string) => {
    try {
      const { stdout } = await run("radtest", ["-t", method, user, password, `127.0.0.1:${collector.ports.auth}`, "0", SECRET]);
      return stdout;
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? "") + String((err as Error).message);
    }
  };

  // radtest's "mschap" is MS-CHAPv1 (MS-CHAP-Response, 8-byte challenge).
  it.each([
    ["pap", "pap"],
    ["chap", "chap"],
    ["mschap", "mschapv1"],
  ])("radtest -t %s: the right password is accepted, a wrong one rejected", async (method, logged) => {
    const ok = await radtest(method, "u_rt", "pw-u_rt");
    expect(ok).toMatch(/Received Access-Accept/);
    expect(ok).toMatch(/Mikrotik-Rate-Limit = "2M\/8M"/);
    const bad = await radtest(method, "u_rt", "not-it");
    expect(bad).toMatch(/Received Access-Reject/);
    expect(await lastAttempt("u_rt")).toMatchObject({ result: "reject", reason: "wrong_password", method: logged });
  });

  // radclient carries an MS-CHAPv2 exchange computed here and checks the reply's authenticators and decodes the Microsoft attributes itself.
  it("radclient MS-CHAPv2: Accept with MS-CHAP2-Success and MPPE keys; wrong password -> MS-CHAP-Error", async () => {
    const challenge = Buffer.alloc(16, 0x3c);
    const peer = Buffer.alloc(16, 0x5a);
    const attrs = (pw: string) =>
      `User-Name = "u_rt", MS-CHAP-Challenge = 0x${challenge.toString("hex")}, ` +
      `MS-CHAP2-Response = 0x${Buffer.concat([Buffer.from([1, 0]), peer, Buffer.alloc(8), generateNtResponse(challenge, peer, "u_rt", pw)]).toString("hex")}, ` +
      "Message-Authenticator = 0x00";
    const radclient = async (a: string) => {
      try {
        const { stdout } = await run("sh", ["-c", `printf '%s\\n' "$ATTRS" | radclient -x -r 1 -t 2 127.0.0.1:${collector.ports.auth} auth "$SECRET"`], {
          env: { ...process.env, ATTRS: a, SECRET },
        });
        return stdout;
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? "") + String((err as Error).message);
      }
    };
    const ok = await radclient(attrs("pw-u_rt"));
    expect(ok).toMatch(/Received Access-Accept/);
    expect(ok).toMatch(/MS-CHAP2-Success = 0x01533d[0-9a-f]{80}/);
    // Decrypted by radclient to the 16-byte key (hidden it would be 34 bytes).
    expect(ok).toMatch(/MS-MPPE-Send-Key = 0x[0-9a-f]{32}\n/);
    expect(ok).toMatch(/MS-MPPE-Recv-Key = 0x[0-9a-f]{32}\n/);
    expect(ok).toMatch(/MS-MPPE-Encryption-Policy = Encryption-Allowed/);
    const bad = await radclient(attrs("not-it"));
    expect(bad).toMatch(/Received Access-Reject/);
    expect(bad).toMatch(/MS-CHAP-Error = /);
    expect(await lastAttempt("u_rt")).toMatchObject({ result: "reject", reason: "wrong_password", method: "mschapv2" });
  });
});

describe("SECRETS_KEY rotation", () => {
  /** A subscriber whose stored password is `enc` (no plain text), in the collector's cache. */
  async function addWithEnc(username: string, enc: string): Promise<number> {
    const id = await addSubscriber(username, "BASIC-8", { simultaneous_use: 10 });
    await pool.query("UPDATE subscribers SET pppoe_password = NULL, pppoe_password_enc = $2 WHERE id = $1", [id, enc]);
    await waitFor(async () => collector.internals.subscribers!.cachedByUsername(username)?.passwordEnc === enc);
    return id;
  }
  const storedEnc = async (username: string) =>
    (await pool.query<{ enc: string }>("SELECT pppoe_password_enc AS enc FROM subscribers WHERE pppoe_username = $1", [username])).rows[0]!.enc;
  const chap = async (username: string, password: string) => {
    const challenge = Buffer.alloc(16, 0x6b);
    const { reply } = await rawExchange([
      ["User-Name", username],
      ["CHAP-Password", chapPassword(7, password, challenge)],
      ["CHAP-Challenge", challenge],
    ]);
    return reply?.code;
  };

  it("a password on the previous key authenticates (PAP and CHAP) before and after the sweep; one on a removed key is rejected by reason", async () => {
    // v2 on the previous key (its id in the value) and v1 on the previous key (no id: tried key by key).
    const v2old = encryptSecret(PREVIOUS_KEY, "pw-u_rot");
    await addWithEnc("u_rot", v2old);
    const v1old = encryptSecret(PREVIOUS_KEY, "pw-u_rot1").replace(/^v2:[0-9a-f]{16}:/, "v1:");
    await addWithEnc("u_rot1", v1old);

    for (const [u, pw] of [["u_rot", "pw-u_rot"], ["u_rot1", "pw-u_rot1"]] as const) {
      expect((await auth("127.0.0.2", u, pw)).code).toBe(PacketCode.AccessAccept);
      expect(await chap(u, pw)).toBe(PacketCode.AccessAccept);
      expect(await chap(u, "wrong")).toBe(PacketCode.AccessReject);
    }
    // Still on the previous key: the collector authenticated without rewriting anything.
    expect(await storedEnc("u_rot")).toBe(v2old);
    expect(await storedEnc("u_rot1")).toBe(v1old);

    const r = await reencryptSecrets(pool, keyring);
    expect(r).toMatchObject({ reencrypted: 2, skippedChanged: 0, undecryptable: 0 });
    for (const u of ["u_rot", "u_rot1"]) expect(secretKeyIdOf(await storedEnc(u))).toBe(secretsKeyId(DEV_SECRETS_KEY));
    const logins = async () => {
      for (const [u, pw] of [["u_rot", "pw-u_rot"], ["u_rot1", "pw-u_rot1"]] as const) {
        expect((await auth("127.0.0.2", u, pw)).code).toBe(PacketCode.AccessAccept);
        expect(await chap(u, pw)).toBe(PacketCode.AccessAccept);
      }
    };
    // The sweep sends no NOTIFY: the cache still holds the old ciphertexts, which the keyring opens.
    expect(collector.internals.subscribers!.cachedByUsername("u_rot")?.passwordEnc).toBe(v2old);
    await logins();
    // After the cache's next full load it holds the new ones.
    await collector.internals.subscribers!.load();
    expect(collector.internals.subscribers!.cachedByUsername("u_rot")?.passwordEnc).toBe(await storedEnc("u_rot"));
    await logins();
    expect(await reencryptSecrets(pool, keyring)).toMatchObject({ reencrypted: 0, undecryptable: 0 });

    // A key nobody configured any more: a clear reject reason, never an accept.
    await addWithEnc("u_rot_lost", encryptSecret(Buffer.alloc(32, 0x77), "pw-u_rot_lost"));
    expect((await auth("127.0.0.2", "u_rot_lost", "pw-u_rot_lost")).code).toBe(PacketCode.AccessReject);
    expect(await lastAttempt("u_rot_lost")).toMatchObject({ result: "reject", reason: "password_unavailable" });
  });
});
