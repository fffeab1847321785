import { describe, expect, it } from "vitest";
import { diffShapes, expectedShape, parsePrismaSchema } from "./schema-model";

describe("schema model", () => {
  const expected = expectedShape(parsePrismaSchema());

  it("maps Prisma types to PostgreSQL types", () => {
    const col = (t: string, c: string) => expected.columns.find((x) => x.table === t && x.column === c);
    expect(col("subscribers", "static_ip")).toEqual({ table: "subscribers", column: "static_ip", type: "inet", nullable: true, hasDefault: false });
    expect(col("plans", "currency")).toMatchObject({ type: "character(3)", hasDefault: true });
    expect(col("invoices", "due_date")).toMatchObject({ type: "date", nullable: false });
    expect(col("radius_sessions", "id")).toMatchObject({ type: "bigint", hasDefault: true });
    expect(col("subscribers", "status")).toMatchObject({ type: "enum:subscriber_status" });
    expect(col("audit_log", "at")).toMatchObject({ type: "timestamp(3) with time zone" });
    expect(col("enforcement_outbox", "result")).toMatchObject({ type: "jsonb", nullable: true });
    expect(expected.constraints).toContainEqual({ table: "radius_sessions", kind: "unique", columns: ["router_id", "acct_session_id"] });
    expect(expected.constraints).toContainEqual({
      table: "subscribers",
      kind: "fk",
      columns: ["plan_id"],
      refTable: "plans",
      refColumns: ["id"],
    });
  });

  it("agrees with itself and reports every kind of drift", () => {
    expect(diffShapes(expected, expected)).toEqual([]);
    const drifted = {
      ...expected,
      columns: expected.columns
        .filter((c) => !(c.table === "routers" && c.column === "location"))
        .map((c) => (c.table === "plans" && c.column === "price_paisa" ? { ...c, type: "bigint" } : c)),
      enums: expected.enums.map((e) => (e.name === "payment_method" ? { ...e, values: ["cash"] } : e)),
      constraints: expected.constraints.filter((c) => c.kind !== "fk" || c.table !== "payments"),
    };
    expect(diffShapes(expected, drifted)).toEqual([
      "column plans.price_paisa: type bigint, schema says integer",
      "missing column routers.location",
      "enum payment_method: labels cash, schema says cash,bank_transfer,online",
      "missing fk payments(subscriber_id) -> subscribers(id)",
      "missing fk payments(operator_id) -> operators(id)",
    ]);
  });
});
