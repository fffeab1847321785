import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, migrationFiles, migrationsDir } from "./migrate";
import { createTestDatabase, type TestDatabase } from "./testing";
import { timeseriesFiles } from "./timeseries";

describe("migrate", () => {
  const dbs: TestDatabase[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "isp-migrations-"));
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("applies everything once even when several processes start together", async () => {
    const db = await createTestDatabase({ migrate: false });
    dbs.push(db);
    const results = await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied.filter((n) => n.endsWith("_init"))).toHaveLength(1);
    expect(applied.filter((n) => n.startsWith("timeseries/"))).toHaveLength(timeseriesFiles(results[0]!.flavour).length);
    expect(new Set(results.map((r) => r.flavour)).size).toBe(1);
    expect(await migrate(db.url)).toEqual({ applied: [], flavour: results[0]?.flavour });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const ts = await c.query("SELECT name, flavour FROM _timeseries_migrations ORDER BY name");
    await c.end();
    expect(ts.rows).toEqual(timeseriesFiles(results[0]!.flavour).map((f) => ({ name: f.name, flavour: results[0]?.flavour })));
  });

  it("refuses to run when an applied migration was edited", async () => {
    const db = await createTestDatabase({ migrate: false });
    dbs.push(db);
    const dir = join(tmp, "edited");
    cpSync(migrationsDir, dir, { recursive: true });
    await migrate(db.url, { dir });
    const [name] = (await import("./migrate")).migrationFiles(dir).map((f) => f.name);
    writeFileSync(join(dir, name ?? "", "migration.sql"), "-- edited\nSELECT 1;\n");
    await expect(migrate(db.url, { dir })).rejects.toThrow(/was modified after it was applied/);
  });

  it("rolls back a failing migration completely", async () => {
    const db = await createTestDatabase({ migrate: false });
    dbs.push(db);
    const dir = join(tmp, "failing");
    cpSync(migrationsDir, dir, { recursive: true });
    const bad = join(dir, "29990101000000_bad");
    cpSync(join(dir, (await import("./migrate")).migrationFiles(dir)[0]?.name ?? ""), bad, { recursive: true });
    writeFileSync(join(bad, "migration.sql"), 'CREATE TABLE "half_done" (id int);\nSELECT no_such_function();\n');
    await expect(migrate(db.url, { dir })).rejects.toThrow(/29990101000000_bad failed/);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const t = await c.query("SELECT to_regclass('half_done') AS t");
    const m = await c.query("SELECT migration_name FROM _prisma_migrations ORDER BY 1");
    await c.end();
    expect(t.rows[0]).toEqual({ t: null });
    // Every real migration applied, the failing one not recorded.
    expect(m.rows.map((r: { migration_name: string }) => r.migration_name)).toEqual(migrationFiles(migrationsDir).map((f) => f.name));
  });
});
