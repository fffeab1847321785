import { describe, expect, it } from "vitest";
import { enforcementResultSchema, nocStateSchema, subscriberSessionSchema } from "./live-protocol";

const state = {
  at: "2026-11-24T10:00:00.000Z",
  online: 2,
  routers: [{ id: 1, name: "KHI-BNG-01", online: 2, inputBps: "1200", outputBps: 5000000, lastSeenAt: null }],
  newest: [
    {
      sessionId: "9007199254740993",
      subscriberId: 1,
      accountNo: "ACC-100001",
      name: "Ahmed Khan",
      username: "ahmed.khan",
      routerName: "KHI-BNG-01",
      framedIp: "10.0.0.2",
      startedAt: "2026-11-24T09:59:00.000Z",
    },
  ],
  counters: { authAccepts: 10, authRejects: 1, dropped: 0 },
};

describe("nocStateSchema", () => {
  it("accepts the collector's push and normalises bps to decimal strings", () => {
    const parsed = nocStateSchema.parse(state);
    expect(parsed.routers[0]?.outputBps).toBe("5000000");
    expect(parsed.newest[0]?.sessionId).toBe("9007199254740993");
  });

  it("rejects a push with a negative or fractional counter", () => {
    expect(nocStateSchema.safeParse({ ...state, online: -1 }).success).toBe(false);
    expect(nocStateSchema.safeParse({ ...state, routers: [{ ...state.routers[0], inputBps: "1.5" }] }).success).toBe(false);
  });
});

describe("subscriberSessionSchema", () => {
  it("accepts an offline subscriber", () => {
    expect(subscriberSessionSchema.parse({ subscriberId: 5, session: null })).toEqual({ subscriberId: 5, session: null });
  });
});

describe("enforcementResultSchema", () => {
  it("fills absent latencies with null and refuses non-final statuses", () => {
    const r = enforcementResultSchema.parse({ actionId: "12", subscriberId: 1, kind: "disconnect", status: "acked", totalLatencyMs: 42 });
    expect(r).toMatchObject({ actionId: "12", totalLatencyMs: 42, routerLatencyMs: null, errorCause: null, message: null });
    expect(enforcementResultSchema.safeParse({ actionId: "12", subscriberId: 1, kind: "disconnect", status: "pending" }).success).toBe(false);
  });
});
