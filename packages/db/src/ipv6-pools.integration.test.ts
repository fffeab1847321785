// IPv6 delegation pools against a real PostgreSQL: prefix arithmetic, lowest-index
// allocation without materialised prefixes, re-dial and sticky prefixes, exhaustion,
// concurrent allocations (never an overlap), the exclusion constraints that hold for code
// that bypasses allocatePrefix, release, the stale sweep and the compliance lookup.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocatePrefix, createIpv6Pool, ipv6PoolsForRouters, releasePrefixes, releaseStalePrefixes, whoHadPrefix, whoHadPrefixBetween } from "./ipv6-pools";
import { createTestDatabase, type TestDatabase } from "./testing";

let db: TestDatabase;
let pool: pg.Pool;
let routerId: number;
let router2: number;
const subs: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 10 });
  pool.on("error", () => undefined);
  routerId = (await pool.query<{ id: number }>("INSERT INTO routers (name, ip_address, radius_secret) VALUES ('R1', '127.0.0.9', 's') RETURNING id")).rows[0]!.id;
  router2 = (await pool.query<{ id: number }>("INSERT INTO routers (name, ip_address, radius_secret) VALUES ('R2', '127.0.0.10', 's') RETURNING id")).rows[0]!.id;
  const plan = (await pool.query<{ id: number }>("INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa) VALUES ('P', 'P', 1024, 512, 100) RETURNING id")).rows[0]!.id;
  const r = await pool.query<{ id: number }>(
    `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password)
     SELECT 'A' || g, 'S' || g, '0300', '1', 'x', 'Lahore', $1, 'u' || g, 'pw' FROM generate_series(1, 80) g RETURNING id`,
    [plan],
  );
  subs.push(...r.rows.map((x) => x.id));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const openLeases = async (poolId: number) =>
  (await pool.query<{ prefix: string; subscriber_id: number; idx: number }>("SELECT prefix::text AS prefix, subscriber_id, idx FROM ipv6_leases WHERE closed_at IS NULL AND pool_id = $1 ORDER BY idx", [poolId])).rows;

const session = (acctSessionId: string, subscriberId: number, prefix: string | null, status = "active", router = routerId) =>
  pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, started_at, last_update_at, delegated_ipv6_prefix)
     VALUES ($1, $2, $3, 'u', $4::session_status, now(), now(), $5::inet)`,
    [router, acctSessionId, subscriberId, status, prefix],
  );

describe("IPv6 delegation pools", () => {
  let big: number;
  let tiny: number;

  it("prefix i of a pool is network + i * 2^(128 - length)", async () => {
    const r = await pool.query<{ a: string; b: string; c: string; d: string }>(
      `SELECT ipv6_prefix_at('2400:abcd::/40', 56, 0)::text AS a, ipv6_prefix_at('2400:abcd::/40', 56, x'1234'::int)::text AS b,
              ipv6_prefix_at('2400:abcd::/40', 56, 65535)::text AS c, ipv6_prefix_at('2001:db8::/32', 64, 16777215)::text AS d`,
    );
    expect(r.rows[0]).toEqual({ a: "2400:abcd::/56", b: "2400:abcd:12:3400::/56", c: "2400:abcd:ff:ff00::/56", d: "2001:db8:ff:ffff::/64" });
  });

  it("creates pools without a row per prefix and refuses bad or overlapping networks", async () => {
    const b = await createIpv6Pool(pool, { name: "pd-lhr", network: "2400:abcd::/40", prefixLength: 56, routerId });
    big = b.id;
    expect(b.prefixes).toBe(65_536);
    tiny = (await createIpv6Pool(pool, { name: "pd-tiny", network: "2400:beef::/62", prefixLength: 64 })).id; // 4 prefixes, shared
    const rows = await pool.query<{ n: number }>("SELECT (SELECT count(*) FROM ipv6_leases)::int + (SELECT count(*) FROM ipv6_pool_holes)::int AS n");
    expect(rows.rows[0]!.n).toBe(0);
    await expect(createIpv6Pool(pool, { name: "overlap", network: "2400:abcd:1::/48", prefixLength: 56 })).rejects.toThrow(/ipv6_pools_no_overlap/);
    await expect(createIpv6Pool(pool, { name: "hostbits", network: "2400:cafe::1/48", prefixLength: 56 })).rejects.toThrow(/ipv6_pools_network_shape/);
    await expect(createIpv6Pool(pool, { name: "toolong", network: "2400:cafe::/48", prefixLength: 80 })).rejects.toThrow(/ipv6_pools_network_shape/);
    await expect(createIpv6Pool(pool, { name: "v4", network: "10.0.0.0/8", prefixLength: 24 })).rejects.toThrow(/ipv6_pools_network_shape/);
    await expect(createIpv6Pool(pool, { name: "huge", network: "2400:cafe::/32", prefixLength: 64 })).rejects.toThrow(/ipv6_pools_network_shape/);
    const byRouter = await ipv6PoolsForRouters(pool);
    expect(byRouter.get(routerId)).toEqual([big]);
    expect(byRouter.get(null)).toEqual([tiny]);
  });

  it("hands out the lowest free index; a re-dial gets its open lease back", async () => {
    const a = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[0]!, routerId });
    expect(a).toMatchObject({ prefix: "2400:abcd::/56", kind: "delegated", how: "new", poolId: big });
    const b = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[1]!, routerId });
    expect(b?.prefix).toBe("2400:abcd:0:100::/56");
    const again = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[0]!, routerId });
    expect(again).toMatchObject({ prefix: "2400:abcd::/56", how: "reused", leaseId: a!.leaseId });
    // While a session uses it, a second device of the same subscriber gets another prefix.
    await session("s0", subs[0]!, "2400:abcd::/56");
    const second = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[0]!, routerId });
    expect(second).toMatchObject({ prefix: "2400:abcd:0:200::/56", how: "new" });
    expect(await releasePrefixes(pool, [{ routerId, prefix: second!.prefix }])).toBe(1);
  });

  it("sticky: a subscriber reconnecting gets its previous prefix back, others do not get it while it is recent", async () => {
    const c = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[2]!, routerId });
    expect(c?.prefix).toBe("2400:abcd:0:300::/56");
    expect(await releasePrefixes(pool, [{ routerId, prefix: c!.prefix }], "stop")).toBe(1);
    // Index 2 (released by the second device above) and 3 are recent holes: a newcomer gets a fresh index.
    const d = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[3]!, routerId });
    expect(d).toMatchObject({ prefix: "2400:abcd:0:400::/56", how: "new" });
    // The owner comes back, even on another NAS (shared pool list): same prefix.
    const back = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[2]!, routerId: router2 });
    expect(back).toMatchObject({ prefix: "2400:abcd:0:300::/56", how: "sticky" });
    // Past the sticky window the lowest old hole goes first.
    await pool.query("UPDATE ipv6_pool_holes SET freed_at = now() - interval '40 days' WHERE pool_id = $1", [big]);
    const e = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[4]!, routerId });
    expect(e).toMatchObject({ prefix: "2400:abcd:0:200::/56", how: "hole" });
  });

  it("exhaustion: a full pool returns null, recent holes are used before that, the next pool in the list is tried", async () => {
    const got = [];
    for (const s of subs.slice(10, 14)) got.push(await allocatePrefix(pool, { poolIds: [tiny], subscriberId: s, routerId }));
    expect(got.map((g) => g?.prefix)).toEqual(["2400:beef::/64", "2400:beef:0:1::/64", "2400:beef:0:2::/64", "2400:beef:0:3::/64"]);
    expect(await allocatePrefix(pool, { poolIds: [tiny], subscriberId: subs[14]!, routerId })).toBeNull();
    // Falls over to the next candidate pool.
    expect((await allocatePrefix(pool, { poolIds: [tiny, big], subscriberId: subs[14]!, routerId }))?.poolId).toBe(big);
    // A prefix released a minute ago is not kept back when nothing else is free.
    await releasePrefixes(pool, [{ routerId, prefix: "2400:beef:0:1::/64" }]);
    expect(await allocatePrefix(pool, { poolIds: [tiny], subscriberId: subs[15]!, routerId })).toMatchObject({ prefix: "2400:beef:0:1::/64", how: "recent_hole" });
    await releasePrefixes(pool, got.map((g) => ({ routerId, prefix: g!.prefix })).concat([{ routerId, prefix: "2400:beef:0:1::/64" }]));
    expect(await openLeases(tiny)).toEqual([]);
  });

  it("50 concurrent allocations into a pool of 16 never overlap: 16 granted, 34 null", async () => {
    const p16 = (await createIpv6Pool(pool, { name: "pd-16", network: "2400:f00d::/60", prefixLength: 64 })).id;
    const got = await Promise.all(subs.slice(20, 70).map((s) => allocatePrefix(pool, { poolIds: [p16], subscriberId: s, routerId })));
    const granted = got.filter((g) => g !== null).map((g) => g.prefix);
    expect(granted.length).toBe(16);
    expect(new Set(granted).size).toBe(16);
    const rows = await openLeases(p16);
    expect(rows.map((r) => r.idx)).toEqual([...Array(16).keys()]);
    // Release all at once, allocate 50 again concurrently: still exactly 16, no duplicates.
    expect(await releasePrefixes(pool, granted.map((p) => ({ routerId, prefix: p })))).toBe(16);
    const again = await Promise.all(subs.slice(20, 70).map((s) => allocatePrefix(pool, { poolIds: [p16], subscriberId: s, routerId })));
    const g2 = again.filter((g) => g !== null).map((g) => g.prefix);
    expect(g2.length).toBe(16);
    expect(new Set(g2).size).toBe(16);
    const overlaps = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM ipv6_leases a JOIN ipv6_leases b ON a.id < b.id AND a.prefix && b.prefix WHERE a.closed_at IS NULL AND b.closed_at IS NULL",
    );
    expect(overlaps.rows[0]!.n).toBe(0);
  });

  it("the database refuses a manual overlapping lease (same prefix, or a shorter one covering it), even across pools", async () => {
    const insert = (prefix: string, sub: number) =>
      pool.query("INSERT INTO ipv6_leases (pool_id, idx, prefix, kind, subscriber_id, router_id) VALUES ($1, 999, $2::inet, 'delegated', $3, $4)", [big, prefix, sub, routerId]);
    await expect(insert("2400:abcd::/56", subs[77]!)).rejects.toThrow(/ipv6_leases_open_no_overlap/);
    await expect(insert("2400:abcd::/48", subs[77]!)).rejects.toThrow(/ipv6_leases_open_no_overlap/);
    await expect(insert("2400:abcd:0:1::/64", subs[77]!)).rejects.toThrow(/ipv6_leases_open_no_overlap/);
    await expect(insert("2400:abcd::1/56", subs[77]!)).rejects.toThrow(/ipv6_leases_prefix_shape/);
    // A closed lease does not block; an open one elsewhere in the space is fine.
    await insert("2400:abcd:ff::/56", subs[77]!);
    await pool.query("UPDATE ipv6_leases SET closed_at = now() WHERE prefix = '2400:abcd:ff::/56'");
    await insert("2400:abcd:ff::/56", subs[78]!);
    // An index taken outside the bookkeeping is skipped by the allocator, not granted twice.
    await pool.query("UPDATE ipv6_pools SET next_index = 65280 WHERE id = $1", [big]); // next fresh index = 0xff00, held by subs[78]
    const skip = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[76]!, routerId });
    expect(skip?.prefix).toBe("2400:abcd:ff:100::/56");
  });

  it("a re-dial replacing its own session (lost Stop) gets its prefix again; the late Stop does not free it", async () => {
    const sub = subs[60]!;
    const first = await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId });
    await pool.query("UPDATE ipv6_leases SET granted_at = now() - interval '1 hour' WHERE id = $1", [first!.leaseId]);
    await pool.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, started_at, last_update_at, delegated_ipv6_prefix)
       VALUES ($1, 'old-60', $2, 'u61', 'active', now() - interval '1 hour', now(), $3::inet)`,
      [routerId, sub, first!.prefix],
    );
    // Without replace (simultaneous use > 1) the second device gets another prefix.
    const other = await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId });
    expect(other?.prefix).not.toBe(first!.prefix);
    await pool.query("UPDATE ipv6_leases SET closed_at = now(), close_reason = 'test' WHERE id = $1", [other!.leaseId]);
    // With replace (simultaneous use 1): the same lease, renewed.
    const redial = await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId, replacesOwnSession: true });
    expect(redial).toMatchObject({ leaseId: first!.leaseId, prefix: first!.prefix, how: "reused" });
    // The old session's Stop arrives late: the lease granted after it started stays open.
    await pool.query("UPDATE radius_sessions SET status = 'stopped', stopped_at = now() WHERE acct_session_id = 'old-60'");
    expect(await releasePrefixes(pool, [{ routerId, prefix: first!.prefix, acctSessionId: "old-60" }])).toBe(0);
    // The new session starts and ends normally: now it is released.
    await pool.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, started_at, last_update_at, stopped_at, delegated_ipv6_prefix)
       VALUES ($1, 'new-60', $2, 'u61', 'stopped', now(), now(), now(), $3::inet)`,
      [routerId, sub, first!.prefix],
    );
    expect(await releasePrefixes(pool, [{ routerId, prefix: first!.prefix, acctSessionId: "new-60" }])).toBe(1);
    // While another active session on that NAS uses a prefix, its end does not free it.
    const shared = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[61]!, routerId });
    await session("s61", subs[61]!, shared!.prefix);
    expect(await releasePrefixes(pool, [{ routerId, prefix: shared!.prefix }])).toBe(0);
  });

  it("sticky prefers the most recently released prefix of the subscriber", async () => {
    const sub = subs[62]!;
    const a = await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId });
    const b = await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId: router2 });
    expect(a!.prefix < b!.prefix).toBe(true); // a is the lower index
    await releasePrefixes(pool, [{ routerId, prefix: a!.prefix }]);
    await new Promise((r) => setTimeout(r, 10));
    await releasePrefixes(pool, [{ routerId: router2, prefix: b!.prefix }]);
    expect(await allocatePrefix(pool, { poolIds: [big], subscriberId: sub, routerId })).toMatchObject({ prefix: b!.prefix, how: "sticky" });
  });

  it("static prefixes: never overlapping each other nor an open lease; the allocator skips them", async () => {
    const setStatic = (sub: number, prefix: string | null) => pool.query("UPDATE subscribers SET static_ipv6_prefix = $2::inet WHERE id = $1", [sub, prefix]);
    const p8 = (await createIpv6Pool(pool, { name: "pd-8", network: "2400:aaaa::/61", prefixLength: 64 })).id;
    await setStatic(subs[73]!, "2400:aaaa:0:1::/64"); // index 1 of pd-8
    await expect(setStatic(subs[74]!, "2400:aaaa::/48")).rejects.toThrow(/subscribers_static_ipv6_prefix_no_overlap/);
    await expect(setStatic(subs[74]!, "2400:aaaa::1/64")).rejects.toThrow(/subscribers_static_ipv6_prefix_shape/);
    const got = [];
    for (const sub of subs.slice(40, 43)) got.push((await allocatePrefix(pool, { poolIds: [p8], subscriberId: sub, routerId }))?.prefix);
    expect(got).toEqual(["2400:aaaa::/64", "2400:aaaa:0:2::/64", "2400:aaaa:0:3::/64"]);
    // A static prefix over someone's open lease is refused; over free space it is fine.
    await expect(setStatic(subs[74]!, "2400:aaaa:0:2::/64")).rejects.toMatchObject({ code: "23P01", constraint: "subscribers_static_ipv6_prefix_lease_conflict" });
    await setStatic(subs[74]!, "2400:aaaa:0:4::/64");
    await expect(
      pool.query("INSERT INTO ipv6_leases (pool_id, idx, prefix, kind, subscriber_id, router_id) VALUES ($1, 4, '2400:aaaa:0:4::/64', 'delegated', $2, $3)", [p8, subs[45], routerId]),
    ).rejects.toMatchObject({ code: "23P01", constraint: "ipv6_leases_static_prefix_conflict" });
    expect((await allocatePrefix(pool, { poolIds: [p8], subscriberId: subs[45]!, routerId }))?.prefix).toBe("2400:aaaa:0:5::/64");
    await setStatic(subs[73]!, null);
    await setStatic(subs[74]!, null);
  });

  it("the stale sweep ends leases no active session uses; sessions keep theirs", async () => {
    const used = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[71]!, routerId });
    const unused = await allocatePrefix(pool, { poolIds: [big], subscriberId: subs[72]!, routerId });
    await session("s71", subs[71]!, used!.prefix);
    await pool.query("UPDATE ipv6_leases SET granted_at = now() - interval '1 hour' WHERE id = ANY($1::bigint[])", [[used!.leaseId, unused!.leaseId]]);
    expect(await releaseStalePrefixes(pool, 600)).toBeGreaterThanOrEqual(1);
    const r = await pool.query<{ id: string; closed: boolean; reason: string | null }>(
      "SELECT id::text, closed_at IS NOT NULL AS closed, close_reason AS reason FROM ipv6_leases WHERE id = ANY($1::bigint[]) ORDER BY id",
      [[used!.leaseId, unused!.leaseId]],
    );
    expect(r.rows).toEqual([
      { id: used!.leaseId, closed: false, reason: null },
      { id: unused!.leaseId, closed: true, reason: "stale" },
    ]);
    const hole = await pool.query("SELECT 1 FROM ipv6_pool_holes h JOIN ipv6_leases l ON l.pool_id = h.pool_id AND l.idx = h.idx WHERE l.id = $1", [unused!.leaseId]);
    expect(hole.rowCount).toBe(1);
  });

  it("who had a prefix (or one address in it) at time T: leases and NAS-reported session prefixes", async () => {
    // A lease held 10:00-11:00, then by someone else from 11:00 on.
    await pool.query(
      `INSERT INTO ipv6_leases (pool_id, idx, prefix, kind, subscriber_id, router_id, opened_at, closed_at, close_reason)
       VALUES ($1, 4660, '2400:abcd:12:3400::/56', 'delegated', $2, $3, '2026-11-01 10:00+05', '2026-11-01 11:00+05', 'stop'),
              ($1, 4660, '2400:abcd:12:3400::/56', 'delegated', $4, $3, '2026-11-01 11:00+05', '2026-11-01 12:00+05', 'stop')`,
      [big, subs[5], routerId, subs[6]],
    );
    // A NAS delegating from its own pool: only the session knows (Delegated-IPv6-Prefix in accounting).
    await pool.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, started_at, last_update_at, stopped_at, delegated_ipv6_prefix)
       VALUES ($1, 'nas-pd', $2, 'u8', 'stopped', '2026-11-01 09:00+05', '2026-11-01 10:30+05', '2026-11-01 10:30+05', '2400:dddd:1::/56')`,
      [router2, subs[7]],
    );
    const at1030 = await whoHadPrefix(pool, "2400:abcd:12:3400::/56", new Date("2026-11-01T10:30:00+05:00"));
    expect(at1030.map((h) => [h.subscriberId, h.username, h.source])).toEqual([[subs[5], "u6", "lease"]]);
    const byAddress = await whoHadPrefix(pool, "2400:abcd:12:34ff::10", new Date("2026-11-01T11:30:00+05:00"));
    expect(byAddress.map((h) => [h.subscriberId, h.prefix, h.until?.toISOString()])).toEqual([[subs[6], "2400:abcd:12:3400::/56", "2026-11-01T07:00:00.000Z"]]);
    expect(await whoHadPrefix(pool, "2400:abcd:12:3400::/56", new Date("2026-11-01T12:30:00+05:00"))).toEqual([]);
    const nas = await whoHadPrefix(pool, "2400:dddd:1:ab::/64", new Date("2026-11-01T10:00:00+05:00"));
    expect(nas.map((h) => [h.subscriberId, h.source, h.acctSessionId, h.routerId])).toEqual([[subs[7], "session", "nas-pd", router2]]);
  });

  it("who had it over a window: every interval overlapping [from, to], the same answer as whoHadPrefix for a moment, with a limit", async () => {
    // The rows of the previous test: 10:00-11:00 subs[5], 11:00-12:00 subs[6] (lease), the NAS's own prefix 09:00-10:30 (session).
    const t = (hhmm: string) => new Date(`2026-11-01T${hhmm}:00+05:00`);
    const both = await whoHadPrefixBetween(pool, "2400:abcd:12:34ff::10", t("10:30"), t("11:30"));
    expect(both.rows.map((h) => [h.subscriberId, h.source])).toEqual([
      [subs[6], "lease"],
      [subs[5], "lease"],
    ]);
    expect(both.truncated).toBe(false);
    const moment = t("10:30");
    const point = await whoHadPrefixBetween(pool, "2400:abcd:12:3400::/56", moment, moment);
    expect(point.rows.map(({ mac: _m, framedIp: _f, ...h }) => h)).toEqual(await whoHadPrefix(pool, "2400:abcd:12:3400::/56", moment));
    // Half-open intervals: a window ending the instant a lease opens finds it; one starting when it closed does not.
    expect((await whoHadPrefixBetween(pool, "2400:abcd:12:3400::/56", t("09:00"), t("10:00"))).rows.map((h) => h.subscriberId)).toEqual([subs[5]]);
    expect((await whoHadPrefixBetween(pool, "2400:abcd:12:3400::/56", t("12:00"), t("13:00"))).rows).toEqual([]);
    const limited = await whoHadPrefixBetween(pool, "2400:abcd:12:3400::/56", t("09:00"), t("13:00"), 1);
    expect(limited.rows.map((h) => h.subscriberId)).toEqual([subs[6]]);
    expect(limited.truncated).toBe(true);
    const nas = await whoHadPrefixBetween(pool, "2400:dddd:1::/48", t("08:00"), t("09:30"));
    expect(nas.rows.map((h) => [h.subscriberId, h.source, h.acctSessionId])).toEqual([[subs[7], "session", "nas-pd"]]);
    await expect(whoHadPrefixBetween(pool, "2400:dddd:1::/48", t("09:30"), t("08:00"))).rejects.toBeInstanceOf(RangeError);
  });
});
