// End to end over real UDP on loopback: our auth + accounting servers, a simulated NAS
// on 127.0.0.2 with 20 subscribers, and the CoA client disconnecting one of them.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAccountingRequest, type AccountingRecord } from "../radius/accounting";
import { CoaClient } from "../radius/coa-client";
import { PacketCode } from "../radius/codec";
import { createRadiusServer, type RadiusServer } from "../radius/server";
import { waitFor } from "../testing/udp";
import { RouterSimulator } from "./simulator";

const SECRET = "sim-secret";
const NAS_IP = "127.0.0.2";
const SUBSCRIBERS = 20;
const users = Array.from({ length: SUBSCRIBERS }, (_, i) => ({ username: `sub${i}`, password: `pw${i}` }));
const table = new Map(users.map((u) => [u.username, u.password]));

describe("simulator end to end", () => {
  let auth: RadiusServer;
  let acct: RadiusServer;
  let sim: RouterSimulator;
  const coa = new CoaClient({ localAddress: "127.0.0.1" });
  const acctRecords: AccountingRecord[] = [];
  const authMethods: string[] = [];

  beforeAll(async () => {
    const secretFor = (ip: string) => (ip === NAS_IP ? SECRET : undefined);
    auth = createRadiusServer({
      kind: "auth",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        const password = table.get(req.getString("User-Name") ?? "");
        authMethods.push(req.authMethod);
        const ok = password !== undefined && (req.authMethod === "chap" ? req.verifyChap(password) : req.papPassword() === password);
        if (!ok) return { code: PacketCode.AccessReject };
        const index = Number(req.getString("User-Name")!.slice(3));
        // Half get a Framed-IP from us, the rest from the simulator's pool.
        const attributes: Array<[string, string | number]> = [["Mikrotik-Rate-Limit", "2M/10M"], ["Acct-Interim-Interval", 60]];
        if (index % 2 === 0) attributes.push(["Framed-IP-Address", `10.20.0.${index + 10}`]);
        return { code: PacketCode.AccessAccept, attributes };
      },
    });
    acct = createRadiusServer({
      kind: "acct",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      // Async, as the real collector's handler is.
      handler: async (req) => {
        acctRecords.push(parseAccountingRequest(req.packet));
        await Promise.resolve();
        return { code: PacketCode.AccountingResponse };
      },
    });
    const authPort = await auth.start();
    const acctPort = await acct.start();
    sim = new RouterSimulator({
      nasIp: NAS_IP,
      nasIdentifier: "sim-e2e",
      secret: SECRET,
      serverHost: "127.0.0.1",
      authPort,
      acctPort,
      coaPort: 0,
      subscribers: [...users, { username: "intruder", password: "guess" }],
      interimIntervalMs: 250,
      connectPerSecond: 400,
      chapRatio: 0.5,
      highCounterRatio: 0.5,
      seed: 7,
      requestTimeoutMs: 1000,
    });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    await coa.close();
    await auth?.stop();
    await acct?.stop();
  });

  it("accepts every subscriber with PAP and CHAP, rejects the wrong one, and accounts Start and Interims", async () => {
    await waitFor(() => sim.stats().accepts === SUBSCRIBERS && sim.stats().rejects === 1, 10_000, "all dial-ins");
    expect(authMethods).toContain("pap");
    expect(authMethods).toContain("chap");
    await waitFor(() => {
      const interimSessions = new Set(acctRecords.filter((r) => r.statusType === "Interim-Update").map((r) => r.acctSessionId));
      return interimSessions.size === SUBSCRIBERS;
    }, 10_000, "interims from every session");
    const starts = acctRecords.filter((r) => r.statusType === "Start");
    expect(new Set(starts.map((r) => r.acctSessionId)).size).toBe(SUBSCRIBERS);
    const sessions = sim.sessions();
    expect(sessions).toHaveLength(SUBSCRIBERS);
    expect(sessions.find((s) => s.username === "sub0")!.framedIp).toBe("10.20.0.10");
    expect(sessions.find((s) => s.username === "sub1")!.framedIp).toMatch(/^100\.\d+\.\d+\.\d+$/);
    for (const s of sessions) {
      expect(s.rateLimit).toBe("2M/10M");
      expect(s.nasPortId).toBe(`pppoe-${s.username}`);
    }
    const interims = acctRecords.filter((r) => r.statusType === "Interim-Update");
    expect(interims.every((r) => r.outputOctets > r.inputOctets && r.framedIp && r.callingStationId && r.userName)).toBe(true);
    // Gigawords: sessions started beyond 2^32 octets arrive with the high word set.
    expect(interims.some((r) => r.outputOctets > 4294967296n)).toBe(true);
    // Counters only grow within a session.
    const bySession = new Map<string, bigint>();
    for (const r of interims) {
      const prev = bySession.get(r.acctSessionId!) ?? -1n;
      expect(r.outputOctets >= prev).toBe(true);
      bySession.set(r.acctSessionId!, r.outputOctets);
    }
    expect(auth.counters.dropBadAuthenticator + acct.counters.dropBadAuthenticator + acct.counters.dropMalformed).toBe(0);
  });

  it("obeys a Disconnect-Request: ACK, then Stop with Admin-Reset; unknown session gets NAK 503", async () => {
    const target = sim.sessions().find((s) => s.username === "sub3")!;
    const result = await coa.disconnect({
      host: NAS_IP,
      port: sim.coaBoundPort(),
      secret: SECRET,
      attributes: [
        ["Acct-Session-Id", target.acctSessionId],
        ["User-Name", "sub3"],
        ["NAS-IP-Address", NAS_IP],
      ],
      timeoutMs: 1000,
      retries: 1,
    });
    expect(result.outcome).toBe("ack");
    expect(result.attempts).toBe(1);
    await waitFor(() => acctRecords.some((r) => r.statusType === "Stop" && r.acctSessionId === target.acctSessionId), 5000, "Stop");
    const stop = acctRecords.find((r) => r.statusType === "Stop" && r.acctSessionId === target.acctSessionId)!;
    expect(stop.terminateCause).toBe("Admin-Reset");
    expect(stop.sessionTime).toBeGreaterThanOrEqual(0);
    expect(sim.sessions().some((s) => s.acctSessionId === target.acctSessionId)).toBe(false);

    const unknown = await coa.disconnect({ host: NAS_IP, port: sim.coaBoundPort(), secret: SECRET, attributes: [["Acct-Session-Id", "no-such-session"]], timeoutMs: 1000 });
    expect(unknown.outcome).toBe("nak");
    expect(unknown.errorCause).toBe(503);
    expect(unknown.errorCauseName).toBe("Session-Context-Not-Found");

    // Identified by Framed-IP-Address only.
    const byIp = sim.sessions().find((s) => s.username === "sub4")!;
    expect((await coa.disconnect({ host: NAS_IP, port: sim.coaBoundPort(), secret: SECRET, attributes: [["Framed-IP-Address", byIp.framedIp]] })).outcome).toBe("ack");

    // A wrong secret is ignored by the NAS: the client times out.
    const wrong = await coa.disconnect({ host: NAS_IP, port: sim.coaBoundPort(), secret: "nope", attributes: [["User-Name", "sub5"]], timeoutMs: 200, retries: 1 });
    expect(wrong.outcome).toBe("timeout");
    expect(wrong.attempts).toBe(2);
    expect(sim.stats().coaDropped).toBe(2);
    expect(sim.stats()).toMatchObject({ disconnectAcks: 2, disconnectNaks: 1 });
    expect(acctRecords.filter((r) => r.statusType === "Stop")).toHaveLength(2);
  });

  it.skipIf(!existsSync("/usr/bin/radclient"))("answers radclient's Disconnect-Request (FreeRADIUS interop)", async () => {
    const target = sim.sessions().find((s) => s.username === "sub7")!;
    const out = await new Promise<string>((resolve) => {
      const c = execFile("/usr/bin/radclient", ["-x", "-r", "1", "-t", "2", `${NAS_IP}:${sim.coaBoundPort()}`, "disconnect", SECRET], { timeout: 10_000 }, (_e, so, se) => resolve(so + se));
      c.stdin!.end(`Acct-Session-Id = "${target.acctSessionId}", User-Name = "sub7"\n`);
    });
    expect(out).toMatch(/Received Disconnect-ACK/);
    await waitFor(() => acctRecords.some((r) => r.statusType === "Stop" && r.acctSessionId === target.acctSessionId), 5000, "Stop");
  });

  it("changes the rate with a CoA-Request", async () => {
    const target = sim.sessions().find((s) => s.username === "sub6")!;
    const r = await coa.coa({ host: NAS_IP, port: sim.coaBoundPort(), secret: SECRET, attributes: [["User-Name", "sub6"], ["Mikrotik-Rate-Limit", "512k/1536k"]] });
    expect(r.outcome).toBe("ack");
    expect(sim.sessions().find((s) => s.acctSessionId === target.acctSessionId)!.downloadKbps).toBe(1536);
  });

  it("shares one socket for many concurrent actions beyond 256 identifiers", async () => {
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) => coa.disconnect({ host: NAS_IP, port: sim.coaBoundPort(), secret: SECRET, attributes: [["Acct-Session-Id", `ghost-${i}`]], timeoutMs: 2000 })),
    );
    expect(results.every((r) => r.outcome === "nak" && r.errorCause === 503)).toBe(true);
    expect(coa.stats.badResponses).toBe(0);
  });

  it("sends Stop for every session on graceful stop", async () => {
    const online = sim.sessions().map((s) => s.acctSessionId);
    expect(online.length).toBeGreaterThan(0);
    await sim.stop();
    const stopped = new Set(acctRecords.filter((r) => r.statusType === "Stop").map((r) => r.acctSessionId));
    for (const id of online) expect(stopped.has(id)).toBe(true);
    expect(sim.sessions()).toHaveLength(0);
  });
});

describe("simulator reconnect", () => {
  it("redials after a reject and after a disconnect when autoReconnectAfterMs is set", async () => {
    let attempts = 0;
    // Only the simulator's NAS address is known: proves it sends from the bound source address.
    const secretFor = (ip: string) => (ip === "127.0.0.4" ? "r" : undefined);
    const auth = createRadiusServer({
      kind: "auth",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: () => ({ code: ++attempts === 1 ? PacketCode.AccessReject : PacketCode.AccessAccept }),
    });
    const stops: string[] = [];
    const acct = createRadiusServer({
      kind: "acct",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        if (req.getInt("Acct-Status-Type") === 2) stops.push(req.getString("Acct-Session-Id")!);
        return { code: PacketCode.AccountingResponse };
      },
    });
    const sim = new RouterSimulator({
      nasIp: "127.0.0.4",
      secret: "r",
      serverHost: "127.0.0.1",
      authPort: await auth.start(),
      acctPort: await acct.start(),
      coaPort: 0,
      subscribers: [{ username: "solo", password: "x" }],
      interimIntervalMs: 60_000,
      autoReconnectAfterMs: 30,
    });
    try {
      await sim.start();
      await waitFor(() => sim.sessions().length === 1, 5000, "accept after reject");
      expect(sim.stats()).toMatchObject({ rejects: 1, accepts: 1 });
      const first = sim.sessions()[0]!.acctSessionId;
      expect(await sim.hangUp("solo")).toBe(true);
      await waitFor(() => sim.sessions().length === 1 && sim.sessions()[0]!.acctSessionId !== first, 5000, "redial after hang-up");
      expect(stops).toEqual([first]);
      // No Framed-IP-Address in the Accept: the simulator's own pool, 100.(64 + last octet).x.y.
      expect(sim.sessions()[0]!.framedIp).toMatch(/^100\.68\./);
    } finally {
      await sim.stop();
      await auth.stop();
      await acct.stop();
    }
  });
});
