import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actualShape, diffShapes, expectedShape, parsePrismaSchema, type DbShape } from "./schema-model";
import { migrationFiles } from "./migrate";
import { createTestDatabase, type TestDatabase } from "./testing";
import { Prisma } from "./generated/prisma/client";

describe("migrations agree with schema.prisma", () => {
  let db: TestDatabase;
  let client: pg.Client;
  let actual: DbShape;
  const expected = expectedShape(parsePrismaSchema());

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    actual = await actualShape(client);
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("the parser sees every model the generated client knows", () => {
    const clientModels = Object.values(Prisma.ModelName).sort();
    expect(parsePrismaSchema().models.map((m) => m.name).sort()).toEqual(clientModels);
    expect(expected.columns.length).toBeGreaterThan(100);
  });

  it("has exactly the tables, columns, enums, unique indexes, indexes and foreign keys of the schema", () => {
    expect(diffShapes(expected, actual)).toEqual([]);
  });

  it("reports a drifted column, a dropped unique and an extra table", () => {
    const altered: DbShape = {
      ...actual,
      tables: [...actual.tables, "stray_table"],
      columns: actual.columns.map((c) =>
        c.table === "subscribers" && c.column === "static_ip" ? { ...c, type: "text", nullable: false } : c,
      ),
      constraints: actual.constraints.filter((c) => !(c.table === "subscribers" && c.columns.join() === "account_no")),
    };
    expect(diffShapes(expected, altered)).toEqual([
      "unexpected table stray_table",
      "column subscribers.static_ip: type text, schema says inet",
      "column subscribers.static_ip: nullable false, schema says true",
      "missing unique subscribers(account_no)",
    ]);
  });

  it("records the migration as prisma migrate deploy would", async () => {
    const r = await client.query(
      `SELECT migration_name, length(checksum) AS len, finished_at IS NOT NULL AS done, applied_steps_count FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(r.rows).toEqual(
      migrationFiles().map((f) => ({ migration_name: expect.stringMatching(new RegExp(`^\\d{14}_${f.name.slice(15)}$`)), len: 64, done: true, applied_steps_count: 1 })),
    );
  });
});
