// The open-session index on its own: what it answers, when it refuses to answer, and the
// ordering of commits reported while its snapshot loads.
import { describe, expect, it } from "vitest";
import { createOpenSessionIndex } from "./open-sessions";

type Row = { subscriber_id: number; router_id: number; acct_session_id: string; calling_station_id: string | null };

/** A query function that answers with `rows`, after running `during` (commits racing the load). */
const snapshot = (rows: Row[], during: () => void = () => undefined) => ({
  query: (async (_sql: string, params: unknown[]) => {
    during();
    return { rows: rows.slice(0, params[0] as number) };
  }) as never,
});

describe("open-session index", () => {
  it("answers nothing before load, then the active sessions per subscriber", async () => {
    const idx = createOpenSessionIndex();
    expect(idx.of(1)).toBeNull();
    idx.opened([{ routerId: 1, acctSessionId: "early", subscriberId: 1, callingStationId: null }]); // ignored: the snapshot covers it
    await idx.load(snapshot([{ subscriber_id: 1, router_id: 2, acct_session_id: "A", calling_station_id: "aa" }]));
    expect(idx.state).toBe("ready");
    expect(idx.of(1)).toEqual([{ routerId: 2, callingStationId: "aa" }]);
    expect(idx.of(99)).toEqual([]);
  });

  it("Start/Interim add once, Stop removes, sessions without a subscriber are ignored", async () => {
    const idx = createOpenSessionIndex();
    await idx.load(snapshot([]));
    const s = { routerId: 1, acctSessionId: "S1", subscriberId: 7, callingStationId: "aa" };
    idx.opened([s]);
    idx.opened([{ ...s, callingStationId: "bb" }]); // interim of the same session
    idx.opened([{ ...s, acctSessionId: "S2", subscriberId: null }]);
    expect(idx.size).toBe(1);
    expect(idx.of(7)).toEqual([{ routerId: 1, callingStationId: "bb" }]);
    idx.opened([{ ...s, routerId: 2 }]); // same Acct-Session-Id on another NAS is another session
    expect(idx.of(7)).toHaveLength(2);
    idx.closed([{ routerId: 1, acctSessionId: "S1", subscriberId: 7 }]);
    idx.closed([{ routerId: 1, acctSessionId: "S1", subscriberId: 7 }]); // a replayed Stop
    expect(idx.of(7)).toEqual([{ routerId: 2, callingStationId: "aa" }]);
    expect(idx.size).toBe(1);
  });

  it("commits reported during the load are applied after the snapshot, in order", async () => {
    const idx = createOpenSessionIndex();
    await idx.load(
      snapshot([{ subscriber_id: 1, router_id: 1, acct_session_id: "A", calling_station_id: null }], () => {
        expect(idx.of(1)).toBeNull();
        idx.closed([{ routerId: 1, acctSessionId: "A", subscriberId: 1 }]);
        idx.opened([{ routerId: 1, acctSessionId: "B", subscriberId: 1, callingStationId: null }]);
        idx.opened([{ routerId: 1, acctSessionId: "C", subscriberId: 2, callingStationId: null }]);
        idx.closed([{ routerId: 1, acctSessionId: "C", subscriberId: 2 }]);
      }),
    );
    expect(idx.of(1)).toEqual([{ routerId: 1, callingStationId: null }]);
    expect(idx.of(2)).toEqual([]);
    expect(idx.size).toBe(1);
  });

  it("over its bound it stops answering (the database decides) and drops its contents", async () => {
    const overflows: number[] = [];
    const idx = createOpenSessionIndex({ sessionsMax: 2, onOverflow: (n) => overflows.push(n) });
    await idx.load(snapshot([{ subscriber_id: 1, router_id: 1, acct_session_id: "A", calling_station_id: null }]));
    idx.opened([{ routerId: 1, acctSessionId: "B", subscriberId: 2, callingStationId: null }]);
    expect(idx.of(2)).toHaveLength(1);
    idx.opened([{ routerId: 1, acctSessionId: "C", subscriberId: 3, callingStationId: null }]);
    expect(idx.state).toBe("overflow");
    expect(overflows).toEqual([3]);
    expect(idx.of(1)).toBeNull();
    expect(idx.size).toBe(0);
    idx.closed([{ routerId: 1, acctSessionId: "C", subscriberId: 3 }]);
    expect(idx.of(3)).toBeNull();
  });

  it("a snapshot larger than the bound, or a failed load, leaves it not authoritative", async () => {
    const big = createOpenSessionIndex({ sessionsMax: 1 });
    await big.load(
      snapshot([
        { subscriber_id: 1, router_id: 1, acct_session_id: "A", calling_station_id: null },
        { subscriber_id: 2, router_id: 1, acct_session_id: "B", calling_station_id: null },
      ]),
    );
    expect(big.state).toBe("overflow");
    expect(big.of(1)).toBeNull();

    const failing = createOpenSessionIndex();
    await expect(failing.load({ query: (async () => Promise.reject(new Error("db down"))) as never })).rejects.toThrow("db down");
    expect(failing.state).toBe("empty");
    expect(failing.of(1)).toBeNull();
  });
});
