// The writer's bounds, with a recording stand-in for the database (the INSERT itself is
// exercised against PostgreSQL in auth-service.integration.test.ts).
import type { AuthLogRow } from "@isp/db/auth-log";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createAuthLogWriter } from "./auth-log-writer";

const row = (i: number): AuthLogRow => ({
  time: new Date(),
  routerId: 1,
  nasIp: "127.0.0.1",
  username: `u${i}`,
  subscriberId: null,
  callingStationId: null,
  method: "pap",
  result: "reject",
  reason: "unknown_user",
  reply: null,
});

function recorder(fail = false) {
  const statements: unknown[][] = [];
  return {
    statements,
    query: async <R>(_text: string, params?: unknown[]) => {
      if (fail) throw new Error("database down");
      statements.push(params ?? []);
      return { rows: [] as R[] };
    },
  };
}

describe("auth log writer", () => {
  it("batches at most batchRowsMax rows per INSERT and writes everything on flush", async () => {
    const db = recorder();
    const w = createAuthLogWriter(db, silentLogger, { batchRowsMax: 4, queueRowsMax: 100 });
    for (let i = 0; i < 10; i++) w.push(row(i));
    await w.flush();
    // One statement per batch: ten column arrays of the batch's length.
    expect(db.statements.map((p) => p.length)).toEqual([10, 10, 10]);
    expect(db.statements.map((p) => (p[0] as unknown[]).length)).toEqual([4, 4, 2]);
    expect((db.statements[2]![3] as string[])).toEqual(["u8", "u9"]);
    expect(w.counters).toMatchObject({ written: 10, queued: 0, droppedQueueFull: 0 });
  });

  it("a full queue drops and counts instead of growing or blocking", async () => {
    const db = recorder();
    const w = createAuthLogWriter(db, silentLogger, { queueRowsMax: 3 });
    for (let i = 0; i < 5; i++) w.push(row(i));
    expect(w.counters).toMatchObject({ queued: 3, droppedQueueFull: 2 });
    await w.flush();
    expect(w.counters.written).toBe(3);
  });

  it("a failed write drops the batch, counts it, and never throws to the caller", async () => {
    const w = createAuthLogWriter(recorder(true), silentLogger, { batchRowsMax: 2 });
    for (let i = 0; i < 3; i++) w.push(row(i));
    await w.flush();
    expect(w.counters).toMatchObject({ written: 0, droppedWriteFailed: 3, queued: 0 });
  });
});
