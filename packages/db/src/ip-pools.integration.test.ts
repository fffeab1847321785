// IP pools against a real PostgreSQL: allocation, exhaustion, concurrent allocations
// (never the same address twice), and the database constraints that hold even for code
// that bypasses allocateAddress.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocateAddress, createPool, releaseAllocation, releaseAllocations, releaseStaleAllocations } from "./ip-pools";
import { createTestDatabase, type TestDatabase } from "./testing";

let db: TestDatabase;
let pool: pg.Pool;
let routerId: number;
const subs: number[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on("error", () => undefined);
  routerId = (await pool.query<{ id: number }>("INSERT INTO routers (name, ip_address, radius_secret) VALUES ('R1', '127.0.0.9', 's') RETURNING id")).rows[0]!.id;
  const plan = (await pool.query<{ id: number }>("INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa) VALUES ('P', 'P', 1024, 512, 100) RETURNING id")).rows[0]!.id;
  const r = await pool.query<{ id: number }>(
    `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password)
     SELECT 'A' || g, 'S' || g, '0300', '1', 'x', 'Karachi', $1, 'u' || g, 'pw' FROM generate_series(1, 80) g RETURNING id`,
    [plan],
  );
  subs.push(...r.rows.map((x) => x.id));
  // Subscriber 80 owns a static IP inside the big pool's range.
  await pool.query("UPDATE subscribers SET static_ip = '100.64.0.7' WHERE id = $1", [subs[79]]);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const leases = async () =>
  (await pool.query<{ ip: string; subscriber_id: number }>("SELECT host(ip) AS ip, subscriber_id FROM ip_allocations WHERE released_at IS NULL ORDER BY ip")).rows;

describe("IP pools", () => {
  let big: number;
  let tiny: number;

  it("creates the free list without network, broadcast and static addresses", async () => {
    const b = await createPool(pool, { name: "cgnat", network: "100.64.0.0/24", routerId });
    big = b.id;
    expect(b.addresses).toBe(253); // 254 hosts minus the static 100.64.0.7
    const t = await createPool(pool, { name: "tiny", network: "100.65.0.0/30" });
    tiny = t.id;
    expect(t.addresses).toBe(2);
    const hosts = (await pool.query<{ ip: string }>("SELECT host(ip) AS ip FROM ip_pool_addresses WHERE pool_id = $1 ORDER BY ip", [tiny])).rows.map((r) => r.ip);
    expect(hosts).toEqual(["100.65.0.1", "100.65.0.2"]);
    await expect(createPool(pool, { name: "huge", network: "10.0.0.0/8" })).rejects.toThrow(/ip_pools_network_size/);
  });

  it("60 concurrent allocations for 60 subscribers get 60 different addresses, never a static one", async () => {
    const got = await Promise.all(subs.slice(0, 60).map((s) => allocateAddress(pool, { poolIds: [big], subscriberId: s, routerId })));
    const ips = got.map((g) => g?.ip);
    expect(ips.every(Boolean)).toBe(true);
    expect(new Set(ips).size).toBe(60);
    expect(ips).not.toContain("100.64.0.7");
    expect((await leases()).length).toBe(60);
  });

  it("a re-dial gets its unused lease back instead of a second address", async () => {
    const before = (await leases()).find((l) => l.subscriber_id === subs[0])!.ip;
    const again = await allocateAddress(pool, { poolIds: [big], subscriberId: subs[0]!, routerId });
    expect(again).toEqual({ ip: before, poolId: big, reused: true });
    expect((await leases()).filter((l) => l.subscriber_id === subs[0])).toHaveLength(1);
  });

  it("an exhausted pool returns null; the next pool in the list is used; release frees an address", async () => {
    const a = await allocateAddress(pool, { poolIds: [tiny], subscriberId: subs[60]!, routerId: null });
    const b = await allocateAddress(pool, { poolIds: [tiny], subscriberId: subs[61]!, routerId: null });
    expect([a?.ip, b?.ip].sort()).toEqual(["100.65.0.1", "100.65.0.2"]);
    expect(await allocateAddress(pool, { poolIds: [tiny], subscriberId: subs[62]!, routerId: null })).toBeNull();
    const spill = await allocateAddress(pool, { poolIds: [tiny, big], subscriberId: subs[62]!, routerId: null });
    expect(spill?.poolId).toBe(big);
    expect(await releaseAllocation(pool, { routerId: null as unknown as number, framedIp: a!.ip })).toBe(true);
    expect(await releaseAllocation(pool, { routerId: null as unknown as number, framedIp: a!.ip })).toBe(false);
    expect((await allocateAddress(pool, { poolIds: [tiny], subscriberId: subs[63]!, routerId: null }))?.ip).toBe(a!.ip);
  });

  it("releaseAllocations ends many leases in one statement and frees their addresses", async () => {
    const open = (await leases()).filter((l) => l.ip.startsWith("100.64.")).slice(0, 3);
    expect(await releaseAllocations(pool, open.map((l) => ({ routerId, framedIp: l.ip })))).toBeGreaterThanOrEqual(3);
    const free = await pool.query("SELECT 1 FROM ip_pool_addresses WHERE host(ip) = ANY($1) AND allocation_id IS NULL", [open.map((l) => l.ip)]);
    expect(free.rowCount).toBe(3);
  });

  it("the database refuses a second open lease of one address, even inserted directly", async () => {
    const held = (await leases())[0]!;
    await expect(
      pool.query("INSERT INTO ip_allocations (pool_id, ip, subscriber_id, router_id) VALUES ($1, $2, $3, $4)", [big, held.ip, subs[70], routerId]),
    ).rejects.toMatchObject({ code: "23505", constraint: "ip_allocations_open_ip_key" });
  });

  it("the database refuses a lease of another subscriber's static IP, and a static IP someone leases", async () => {
    await expect(
      pool.query("INSERT INTO ip_allocations (pool_id, ip, subscriber_id) VALUES ($1, '100.64.0.7', $2)", [big, subs[70]]),
    ).rejects.toMatchObject({ code: "23P01" });
    const held = (await leases()).find((l) => l.ip.startsWith("100.64."))!;
    await expect(pool.query("UPDATE subscribers SET static_ip = $1 WHERE id = $2", [held.ip, subs[71]])).rejects.toMatchObject({ code: "23P01" });
    // The holder itself may be given its leased address as static.
    await pool.query("UPDATE subscribers SET static_ip = $1 WHERE id = $2", [held.ip, held.subscriber_id]);
  });

  it("concurrent static-IP assignment and lease of the same address: exactly one wins", async () => {
    const ip = "100.64.0.250";
    await pool.query("DELETE FROM ip_pool_addresses WHERE host(ip) = $1", [ip]); // keep it out of allocateAddress
    const results = await Promise.allSettled([
      pool.query("UPDATE subscribers SET static_ip = $1 WHERE id = $2", [ip, subs[72]]),
      pool.query("INSERT INTO ip_allocations (pool_id, ip, subscriber_id) VALUES ($1, $2, $3)", [big, ip, subs[73]]),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("stale leases (no active session, older than the grace) are released", async () => {
    const [idle, busy] = (await leases()).filter((l) => l.ip.startsWith("100.64."));
    await pool.query("UPDATE ip_allocations SET allocated_at = now() - interval '1 hour' WHERE subscriber_id = ANY($1) AND released_at IS NULL", [
      [idle!.subscriber_id, busy!.subscriber_id],
    ]);
    // The second has an active session on its address: kept.
    await pool.query(
      "INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, framed_ip, started_at, last_update_at) VALUES ($1, 'S-busy', $2, 'busy', $3, now(), now())",
      [routerId, busy!.subscriber_id, busy!.ip],
    );
    expect(await releaseStaleAllocations(pool, 600)).toBe(1);
    const open = await leases();
    expect(open.some((l) => l.subscriber_id === idle!.subscriber_id)).toBe(false);
    expect(open.some((l) => l.subscriber_id === busy!.subscriber_id)).toBe(true);
  });

  it("a late Stop never frees the address a re-dial was granted since; the re-dial's own Stop does", async () => {
    const sub = subs[70]!;
    const first = await allocateAddress(pool, { poolIds: [big], subscriberId: sub, routerId });
    const ip = first!.ip;
    const session = (id: string, status: string) =>
      pool.query(
        `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, framed_ip, status, started_at, last_update_at)
         VALUES ($1, $2, $3, 'u71', $4, $5::session_status, now() - interval '1 hour', now())`,
        [routerId, id, sub, ip, status],
      );
    // S1 began an hour ago on this lease (granted just before it), then went stale (no interims).
    await pool.query("UPDATE ip_allocations SET allocated_at = now() - interval '1 hour' WHERE ip = $1 AND released_at IS NULL", [ip]);
    await session("S1-late", "stale");
    // The CPE re-dials: the lease is handed out again (S1 is not active) ...
    const again = await allocateAddress(pool, { poolIds: [big], subscriberId: sub, routerId });
    expect(again).toEqual({ ip, poolId: big, reused: true });
    // ... and S1's Stop arrives only now, before the re-dial's Start: the lease stays.
    await pool.query("UPDATE radius_sessions SET status = 'stopped', stopped_at = now() WHERE acct_session_id = 'S1-late'");
    expect(await releaseAllocations(pool, [{ routerId, framedIp: ip, acctSessionId: "S1-late" }])).toBe(0);
    // The re-dial's Start has come; S1's Stop retransmitted once more: still kept (S2 active).
    await pool.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, framed_ip, status, started_at, last_update_at)
       VALUES ($1, 'S2-redial', $2, 'u71', $3, 'active', now(), now())`,
      [routerId, sub, ip],
    );
    expect(await releaseAllocations(pool, [{ routerId, framedIp: ip, acctSessionId: "S1-late" }])).toBe(0);
    expect((await leases()).filter((l) => l.ip === ip)).toEqual([{ ip, subscriber_id: sub }]);
    // Nobody else can be given the address meanwhile.
    const other = await allocateAddress(pool, { poolIds: [big], subscriberId: subs[71]!, routerId });
    expect(other?.ip).not.toBe(ip);
    // The re-dial's own Stop ends the lease and frees the address.
    await pool.query("UPDATE radius_sessions SET status = 'stopped', stopped_at = now() WHERE acct_session_id = 'S2-redial'");
    expect(await releaseAllocations(pool, [{ routerId, framedIp: ip, acctSessionId: "S2-redial" }])).toBe(1);
    expect((await leases()).some((l) => l.ip === ip)).toBe(false);
    expect((await pool.query("SELECT allocation_id FROM ip_pool_addresses WHERE ip = $1", [ip])).rows[0]).toEqual({ allocation_id: null });
  });
});
