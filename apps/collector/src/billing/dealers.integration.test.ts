import { DealerError } from "@isp/billing/dealer";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dealerRecharge, topUpWallet, walletBalance } from "./dealers";

describe("dealer wallets on PostgreSQL", () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.prisma, { subscribers: 20 });
    pool = new pg.Pool({ connectionString: db.url, max: 12 });
    pool.on("error", () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it("50 concurrent recharges never overdraw the wallet", async () => {
    const [d] = (await pool.query<{ id: number }>(`SELECT id FROM dealers ORDER BY id LIMIT 1`)).rows;
    // Same plan and city for all, so every recharge costs the same; spread over many
    // subscribers so only the dealer's lock stands between the recharges.
    await pool.query(`UPDATE subscribers SET city = 'Karachi', plan_id = (SELECT min(id) FROM plans)`);
    const subs = (await pool.query<{ id: number }>(`SELECT id FROM subscribers ORDER BY id`)).rows;
    const now = new Date("2026-12-05T06:00:00Z");
    await topUpWallet(pool, { dealerId: d!.id, topUpId: "T-1", amountPaisa: 1_000_000, method: "cash", now, operatorId: null, actor: "test" });
    expect(await topUpWallet(pool, { dealerId: d!.id, topUpId: "T-1", amountPaisa: 1_000_000, method: "cash", now, operatorId: null, actor: "test" })).toEqual({ duplicate: true });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => dealerRecharge(pool, { rechargeId: `R-${i}`, dealerId: d!.id, subscriberId: subs[i % subs.length]!.id, now, operatorId: null, actor: "dealer" })),
    );
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    expect(ok.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e) => e instanceof DealerError && e.code === "insufficient_funds")).toBe(true);
    const gross = ok[0]!.grossPaisa;
    expect(ok.length).toBe(Math.floor(1_000_000 / gross));
    const balance = await walletBalance(pool, d!.id);
    expect(balance).toBe(1_000_000 - ok.length * gross);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(balance).toBeLessThan(gross);
    expect((await pool.query(`SELECT 1 FROM ledger_entries GROUP BY transaction_id HAVING sum(amount_paisa) <> 0`)).rowCount).toBe(0);
  });
});
