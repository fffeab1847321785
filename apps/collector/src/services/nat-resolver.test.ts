import { describe, expect, it } from "vitest";
import { createSessionIndex, observeAccounting } from "./nat-resolver";
import type { AcctInput } from "./session-store";

const t = (iso: string) => new Date(`2026-11-24T${iso}Z`);

describe("session index", () => {
  it("resolves inside [start, stop] only, both ends inclusive", () => {
    const idx = createSessionIndex();
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: t("11:00:00") });
    expect(idx.lookup("10.0.0.5", t("09:59:59.999"))).toBeNull();
    expect(idx.lookup("10.0.0.5", t("10:00:00"))?.acctSessionId).toBe("A");
    expect(idx.lookup("10.0.0.5", t("10:30:00"))?.subscriberId).toBe(7);
    expect(idx.lookup("10.0.0.5", t("11:00:00"))?.acctSessionId).toBe("A");
    expect(idx.lookup("10.0.0.5", t("11:00:00.001"))).toBeNull();
    expect(idx.lookup("10.0.0.6", t("10:30:00"))).toBeNull();
  });

  it("coverage: set by a complete load, narrowed by trimmed history, cleared by eviction", () => {
    const idx = createSessionIndex({ ipsMax: 2, perIpMax: 1 });
    expect(idx.coveredSince).toBeNull();
    idx.setCoveredSince(t("00:00:00"));
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: t("11:00:00") });
    expect(idx.coveredSince).toEqual(t("00:00:00"));
    // A second session on the same IP pushes A out: nothing is known about that IP up to A's end.
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "B", subscriberId: 8, start: t("11:00:05"), stop: null });
    expect(idx.coveredSince).toEqual(t("11:00:00.001"));
    idx.observe("10.0.0.6", { routerId: 1, acctSessionId: "C", subscriberId: 9, start: t("12:00:00"), stop: null });
    expect(idx.coveredSince).not.toBeNull();
    // A third IP over ipsMax evicts one: the index no longer knows everything.
    idx.observe("10.0.0.7", { routerId: 1, acctSessionId: "D", subscriberId: 10, start: t("12:00:00"), stop: null });
    expect(idx.coveredSince).toBeNull();
  });

  it("an IP handed to the next subscriber resolves to each at their own times", () => {
    const idx = createSessionIndex();
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: t("11:00:00") });
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "B", subscriberId: 8, start: t("11:00:05"), stop: null });
    expect(idx.lookup("10.0.0.5", t("10:59:59"))?.subscriberId).toBe(7);
    expect(idx.lookup("10.0.0.5", t("11:00:02"))).toBeNull(); // between the two sessions
    expect(idx.lookup("10.0.0.5", t("11:00:05"))?.subscriberId).toBe(8);
    expect(idx.lookup("10.0.0.5", t("23:00:00"))?.subscriberId).toBe(8); // still open
  });

  it("an open session whose Stop was lost yields to the later session on the same IP", () => {
    const idx = createSessionIndex();
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: null });
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "B", subscriberId: 8, start: t("12:00:00"), stop: null });
    expect(idx.lookup("10.0.0.5", t("11:00:00"))?.subscriberId).toBe(7);
    expect(idx.lookup("10.0.0.5", t("12:00:01"))?.subscriberId).toBe(8);
  });

  it("interims extend a session; Stop closes it; Accounting-On closes a router's open sessions", () => {
    const idx = createSessionIndex();
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: null });
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:01"), stop: null });
    idx.observe("10.0.0.5", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: t("10:20:00") });
    expect(idx.lookup("10.0.0.5", t("10:20:01"))).toBeNull();
    idx.observe("10.0.0.9", { routerId: 2, acctSessionId: "C", subscriberId: 9, start: t("10:00:00"), stop: null });
    idx.closeRouter(2, t("10:30:00"));
    expect(idx.lookup("10.0.0.9", t("10:29:59"))?.subscriberId).toBe(9);
    expect(idx.lookup("10.0.0.9", t("10:30:01"))).toBeNull();
  });

  it("prefers the sender's router when private IPs overlap across routers", () => {
    const idx = createSessionIndex();
    idx.observe("100.64.0.1", { routerId: 1, acctSessionId: "A", subscriberId: 7, start: t("10:00:00"), stop: null });
    idx.observe("100.64.0.1", { routerId: 2, acctSessionId: "B", subscriberId: 8, start: t("10:05:00"), stop: null });
    expect(idx.lookup("100.64.0.1", t("10:10:00"), 1)?.subscriberId).toBe(7);
    expect(idx.lookup("100.64.0.1", t("10:10:00"), 2)?.subscriberId).toBe(8);
    expect(idx.lookup("100.64.0.1", t("10:10:00"), null)?.subscriberId).toBe(8);
  });

  it("is bounded: IPs by least recent update, sessions per IP by age", () => {
    const idx = createSessionIndex({ ipsMax: 3, perIpMax: 2 });
    for (let i = 1; i <= 4; i++) idx.observe(`10.0.0.${i}`, { routerId: 1, acctSessionId: `S${i}`, subscriberId: i, start: t("10:00:00"), stop: null });
    expect(idx.size).toBe(3);
    expect(idx.lookup("10.0.0.1", t("10:00:01"))).toBeNull();
    expect(idx.lookup("10.0.0.4", t("10:00:01"))?.subscriberId).toBe(4);
    for (const [i, h] of ["10", "11", "12"].entries()) idx.observe("10.0.0.4", { routerId: 1, acctSessionId: `X${i}`, subscriberId: 100 + i, start: t(`${h}:00:00`), stop: t(`${h}:30:00`) });
    expect(idx.lookup("10.0.0.4", t("10:10:00"))).toBeNull(); // the oldest two were evicted
    expect(idx.lookup("10.0.0.4", t("12:10:00"))?.subscriberId).toBe(102);
  });
});

describe("accounting hook", () => {
  const rec = (over: Partial<AcctInput>): AcctInput => ({
    status: "start",
    acctSessionId: "S1",
    username: "u1",
    sessionTimeS: 0,
    inputOctets: 0n,
    outputOctets: 0n,
    framedIp: "10.0.0.5",
    callingStationId: null,
    nasPortId: null,
    terminateCause: null,
    delayTimeS: 0,
    ...over,
  });
  const resolve = { routerId: (ip: string) => (ip === "192.0.2.1" ? 3 : undefined), subscriberId: (u: string) => (u === "u1" ? 42 : null) };

  it("indexes only acknowledged records, with start = now - Acct-Session-Time", async () => {
    const idx = createSessionIndex();
    let answer: "ack" | "no-ack" = "no-ack";
    const h = observeAccounting(async () => answer, idx, resolve);
    await h({ sourceIp: "192.0.2.1", record: rec({}) });
    expect(idx.size).toBe(0);
    answer = "ack";
    await h({ sourceIp: "192.0.2.1", record: rec({ status: "interim", sessionTimeS: 600 }) });
    expect(idx.lookup("10.0.0.5", new Date(Date.now() - 590_000))).toEqual({ subscriberId: 42, acctSessionId: "S1", routerId: 3 });
    expect(idx.lookup("10.0.0.5", new Date(Date.now() - 700_000))).toBeNull();
    await h({ sourceIp: "192.0.2.1", record: rec({ status: "stop", sessionTimeS: 600 }) });
    expect(idx.lookup("10.0.0.5", new Date(Date.now() + 1000))).toBeNull();
    await h({ sourceIp: "192.0.2.99", record: rec({ acctSessionId: "S2", framedIp: "10.0.0.6" }) });
    expect(idx.lookup("10.0.0.6", new Date())).toBeNull(); // unknown NAS
  });
});
