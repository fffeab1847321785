// The subscriber cache against a real PostgreSQL: change polls, renames, deletes, misses.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { seed } from "@isp/db/seed";
import { silentLogger } from "../log";
import { createSubscriberCache, type SubscriberCache } from "./caches";

let db: TestDatabase;
let pool: pg.Pool;
let cache: SubscriberCache;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 300 });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // A short look-back so the test can outwait it.
  cache = createSubscriberCache(pool, silentLogger, { lookbackMs: 300 });
  await cache.load();
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const one = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows[0] as Record<string, unknown>;

describe("subscriber cache", () => {
  it("loads every subscriber", async () => {
    const n = Number((await one("SELECT count(*) AS n FROM subscribers")).n);
    expect(cache.size).toBe(n);
  });

  it("a renamed username replaces its old key on the next change poll", async () => {
    const s = await one("SELECT id, pppoe_username FROM subscribers ORDER BY id LIMIT 1");
    const oldName = s.pppoe_username as string;
    expect(cache.cachedByUsername(oldName)?.id).toBe(s.id);
    await pool.query("UPDATE subscribers SET pppoe_username = 'renamed.user', updated_at = now() WHERE id = $1", [s.id]);
    expect(await cache.refreshChanged()).toBeGreaterThanOrEqual(1);
    expect(cache.cachedByUsername(oldName)).toBeUndefined();
    expect(cache.cachedByUsername("renamed.user")?.id).toBe(s.id);
  });

  it("a change poll re-reads only the recent window, not every row it has seen", async () => {
    await pool.query("UPDATE subscribers SET updated_at = now() WHERE id IN (SELECT id FROM subscribers ORDER BY id LIMIT 50)");
    expect(await cache.refreshChanged()).toBeGreaterThanOrEqual(50);
    // Within the look-back the same rows are read again (a late commit must not be missed)...
    expect(await cache.refreshChanged()).toBeGreaterThanOrEqual(50);
    // ...but once it has passed, an idle poll reads nothing, however recent the newest row is.
    await new Promise((r) => setTimeout(r, 400));
    await cache.refreshChanged();
    expect(await cache.refreshChanged()).toBe(0);
    await pool.query("UPDATE subscribers SET name = 'Changed Name', updated_at = now() WHERE id = (SELECT min(id) FROM subscribers WHERE pppoe_username <> 'renamed.user')");
    expect(await cache.refreshChanged()).toBe(1);
  });

  it("reloadOne drops a deleted subscriber and a miss is fetched once", async () => {
    const s = await one("SELECT id, pppoe_username FROM subscribers ORDER BY id DESC LIMIT 1");
    await pool.query("DELETE FROM subscribers WHERE id = $1", [s.id]).catch(async () => {
      // Rows referencing it (sessions, invoices) would block a delete; terminate instead.
      await pool.query("UPDATE subscribers SET pppoe_username = 'gone.user' WHERE id = $1", [s.id]);
    });
    await cache.reloadOne(s.id as number);
    expect(cache.cachedByUsername(s.pppoe_username as string)).toBeUndefined();
    expect(await cache.byUsername("no.such.user")).toBeNull();
  });

  it("full reloads asked for while one runs share a single next one", async () => {
    const counted = new pg.Pool({ connectionString: db.url, max: 3 });
    let loads = 0;
    const query = counted.query.bind(counted) as (...a: unknown[]) => Promise<unknown>;
    (counted as unknown as { query: unknown }).query = (...a: unknown[]) => {
      if (typeof a[0] === "string" && a[0].trimEnd().endsWith("JOIN plans p ON p.id = s.plan_id")) loads++;
      return query(...a);
    };
    try {
      const c = createSubscriberCache(counted, silentLogger);
      await c.load();
      expect(loads).toBe(1);
      const s = await one("SELECT id, pppoe_username FROM subscribers ORDER BY id LIMIT 1");
      await pool.query("UPDATE subscribers SET name = 'Bulk' WHERE id = $1", [s.id]);
      // 51 NOTIFYs' worth of reloads: the first, and one shared by the 50 asked during it.
      const first = c.load();
      const rest = Array.from({ length: 50 }, () => c.load());
      await Promise.all([first, ...rest]);
      expect(loads).toBe(3);
      expect(c.cachedByUsername(s.pppoe_username as string)?.name).toBe("Bulk");
      expect(c.size).toBe(cache.size);
    } finally {
      await counted.end();
    }
  });

  it("reloadOne calls in one turn share one query; a later change is read after the earlier batch", async () => {
    // Count the statements the cache sends through its own pool.
    const counted = new pg.Pool({ connectionString: db.url, max: 3 });
    let reloads = 0;
    const query = counted.query.bind(counted) as (...a: unknown[]) => Promise<unknown>;
    (counted as unknown as { query: unknown }).query = (...a: unknown[]) => {
      if (typeof a[0] === "string" && a[0].includes("ANY($1::int[])")) reloads++;
      return query(...a);
    };
    try {
      const c = createSubscriberCache(counted, silentLogger);
      await c.load();
      const rows = (await pool.query<{ id: number; pppoe_username: string }>("SELECT id, pppoe_username FROM subscribers ORDER BY id LIMIT 120")).rows;
      await pool.query("UPDATE subscribers SET name = 'Batch ' || id WHERE id = ANY($1::int[])", [rows.map((r) => r.id)]);
      await Promise.all(rows.map((r) => c.reloadOne(r.id)));
      expect(reloads).toBe(1);
      for (const r of rows) expect(c.cachedByUsername(r.pppoe_username)?.name).toBe(`Batch ${r.id}`);

      // A NOTIFY for a row while its previous batch is running is read again afterwards.
      const first = rows[0]!;
      const p1 = c.reloadOne(first.id);
      await new Promise((resolve) => setImmediate(resolve));
      await pool.query("UPDATE subscribers SET name = 'Second' WHERE id = $1", [first.id]);
      const p2 = c.reloadOne(first.id);
      await Promise.all([p1, p2]);
      expect(reloads).toBe(3);
      expect(c.cachedByUsername(first.pppoe_username)?.name).toBe("Second");
    } finally {
      await counted.end();
    }
  });
});
