import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertAuthLog, insertAuthLogColumns, recentAuthAttempts, type AuthLogRow } from "./auth-log";
import { createTestDatabase, type TestDatabase } from "./testing";

let db: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const row = (over: Partial<AuthLogRow>): AuthLogRow => ({
  time: new Date(),
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

describe("auth log", () => {
  it("is a partitioned table with 90 days retention on plain PostgreSQL", async () => {
    if (db.flavour !== "plain") return;
    const r = await client.query("SELECT retention::text FROM ts_partitioned_tables WHERE parent = 'auth_log'");
    expect(r.rows).toEqual([{ retention: "90 days" }]);
    const parts = await client.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'auth_log'::regclass");
    expect(parts.rows[0].n).toBeGreaterThan(1);
  });

  it("answers support by username or subscriber (also rows logged before the account existed), newest first, bounded", async () => {
    const router = (await client.query<{ id: number }>("INSERT INTO routers (name, ip_address, radius_secret) VALUES ('KHI', '127.0.0.1', 's') RETURNING id")).rows[0]!.id;
    const plan = (await client.query<{ id: number }>("INSERT INTO plans (code, name, download_kbps, upload_kbps, price_paisa) VALUES ('P', 'P', 1, 1, 1) RETURNING id")).rows[0]!.id;
    const sub = (
      await client.query<{ id: number }>(
        "INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password) VALUES ('A', 'Ali', '0', '1', 'x', 'K', $1, 'ali', 'pw') RETURNING id",
        [plan],
      )
    ).rows[0]!.id;
    const t0 = Date.now() - 10_000;
    const rows = [
      row({ time: new Date(t0), reason: "unknown_user" }),
      row({ time: new Date(t0 + 1000), subscriberId: sub, routerId: router, callingStationId: "aa:bb:cc:dd:ee:ff" }),
      row({ time: new Date(t0 + 2000), subscriberId: sub, routerId: router, result: "accept", reason: "ok", reply: "service 2048k/8192k" }),
      row({ time: new Date(t0 + 3000), username: "other", reason: "mac_mismatch" }),
    ];
    expect(await insertAuthLog(client, rows)).toBe(4);
    const bySub = await recentAuthAttempts(client, { subscriberId: sub });
    expect(bySub.map((r) => r.reason)).toEqual(["ok", "wrong_password", "unknown_user"]);
    expect(bySub[0]).toMatchObject({ routerName: "KHI", nasIp: "127.0.0.1", result: "accept", reply: "service 2048k/8192k" });
    expect((await recentAuthAttempts(client, { username: "other" })).map((r) => r.reason)).toEqual(["mac_mismatch"]);
    expect(await recentAuthAttempts(client, { username: "ali", limit: 2 })).toHaveLength(2);
    expect(await recentAuthAttempts(client, { username: "ali", since: new Date(t0 + 1500) })).toHaveLength(1);
  });

  it("insertAuthLogColumns stores the same rows as insertAuthLog (times to the millisecond, NULLs, quotes)", async () => {
    const t = Date.UTC(2026, 10, 24, 12, 0, 0, 123);
    const n = await insertAuthLogColumns(client, {
      time: [t, t + 1],
      routerId: [null, null],
      nasIp: ["10.0.0.1", "::ffff:10.0.0.2"],
      username: ['col "q" \\ ,{}', "col2"],
      subscriberId: [null, null],
      callingStationId: ["aa:bb:cc:dd:ee:ff", null],
      method: ["pap", "chap"],
      result: ["accept", "drop"],
      reason: ["ok", "bad_message_authenticator"],
      reply: ["service 1k/2k", null],
    });
    expect(n).toBe(2);
    const r = await client.query(
      "SELECT (extract(epoch FROM time) * 1000)::bigint::text AS ms, host(nas_ip) AS ip, username, calling_station_id, method, result, reason, reply FROM auth_log WHERE username LIKE 'col%' ORDER BY time",
    );
    expect(r.rows).toEqual([
      { ms: String(t), ip: "10.0.0.1", username: 'col "q" \\ ,{}', calling_station_id: "aa:bb:cc:dd:ee:ff", method: "pap", result: "accept", reason: "ok", reply: "service 1k/2k" },
      { ms: String(t + 1), ip: "::ffff:10.0.0.2", username: "col2", calling_station_id: null, method: "chap", result: "drop", reason: "bad_message_authenticator", reply: null },
    ]);
    await expect(insertAuthLogColumns(client, { time: [1], routerId: [], nasIp: [], username: [], subscriberId: [], callingStationId: [], method: [], result: [], reason: [], reply: [] })).rejects.toThrow(/different lengths/);
  });
});
