// The simulator's router side over real sockets: RADIUS (auth, accounting, CoA) plus the
// RouterOS API and REST servers sharing one state, driven through our adapters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAccountingRequest, type AccountingRecord } from "../radius/accounting";
import { CoaClient } from "../radius/coa-client";
import { PacketCode } from "../radius/codec";
import { createRadiusServer, type RadiusServer } from "../radius/server";
import { NodeRouterOsAdapter, RestRouterOsAdapter } from "../routeros/adapter";
import { waitFor } from "../testing/udp";
import { RouterSimulator } from "./simulator";

const SECRET = "ros-secret";
const NAS_IP = "127.0.0.3";
const users = Array.from({ length: 4 }, (_, i) => ({ username: `ros${i}`, password: `pw${i}` }));

describe("simulator RouterOS API and REST", () => {
  let auth: RadiusServer;
  let acct: RadiusServer;
  let sim: RouterSimulator;
  let api: NodeRouterOsAdapter;
  let rest: RestRouterOsAdapter;
  const coa = new CoaClient({ localAddress: "127.0.0.1" });
  const acctRecords: AccountingRecord[] = [];

  beforeAll(async () => {
    const secretFor = (ip: string) => (ip === NAS_IP ? SECRET : undefined);
    auth = createRadiusServer({
      kind: "auth",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        const ok = users.some((u) => u.username === req.getString("User-Name") && u.password === req.papPassword());
        if (!ok) return { code: PacketCode.AccessReject };
        const i = Number(req.getString("User-Name")!.slice(3));
        return { code: PacketCode.AccessAccept, attributes: [["Mikrotik-Rate-Limit", "2M/10M"], ["Framed-IP-Address", `10.30.0.${i + 10}`]] };
      },
    });
    acct = createRadiusServer({
      kind: "acct",
      host: "127.0.0.1",
      port: 0,
      secretFor,
      handler: (req) => {
        acctRecords.push(parseAccountingRequest(req.packet));
        return { code: PacketCode.AccountingResponse };
      },
    });
    const authPort = await auth.start();
    const acctPort = await acct.start();
    sim = new RouterSimulator({
      nasIp: NAS_IP,
      secret: SECRET,
      serverHost: "127.0.0.1",
      authPort,
      acctPort,
      coaPort: 0,
      subscribers: users,
      connectPerSecond: 400,
      highCounterRatio: 0,
      seed: 3,
      requestTimeoutMs: 1000,
      routerOsApi: { port: 0 },
      routerOsRest: { port: 0 },
      routerUsers: { api: "api-pw" },
    });
    await sim.start();
    api = new NodeRouterOsAdapter({ host: NAS_IP, port: sim.apiBoundPort(), user: "api", password: "api-pw" });
    rest = new RestRouterOsAdapter({ baseUrl: `http://${NAS_IP}:${sim.restBoundPort()}`, user: "api", password: "api-pw" });
    await waitFor(() => sim.sessions().length === users.length, 10_000, "all sessions up");
    await waitFor(() => acctRecords.filter((r) => r.statusType === "Start").length === users.length, 5000, "Starts");
  });

  afterAll(async () => {
    await api?.close();
    await rest?.close();
    await sim?.stop();
    await coa.close();
    await auth?.stop();
    await acct?.stop();
  });

  const disconnect = (username: string) => {
    const s = sim.sessions().find((x) => x.username === username)!;
    return coa.disconnect({
      host: NAS_IP,
      port: sim.coaBoundPort(),
      secret: SECRET,
      attributes: [["Acct-Session-Id", s.acctSessionId], ["User-Name", username], ["NAS-IP-Address", NAS_IP]],
      timeoutMs: 1000,
      retries: 1,
    });
  };

  it("lists the simulator's sessions as /ppp/active with dynamic <pppoe-> queues", async () => {
    const active = await api.listActiveSessions();
    expect(active.map((s) => s.name).sort()).toEqual(users.map((u) => u.username));
    const ros1 = sim.sessions().find((s) => s.username === "ros1")!;
    expect(active.find((s) => s.name === "ros1")).toMatchObject({ address: "10.30.0.11", sessionId: `0x${ros1.acctSessionId.toUpperCase()}`, service: "pppoe" });
    const queues = await rest.listQueues();
    expect(queues.find((q) => q.name === "<pppoe-ros1>")).toMatchObject({ target: "10.30.0.11/32", dynamic: true, rate: { uploadKbps: 2048, downloadKbps: 10240 } });
  });

  it("removing a session through the API ends it with Accounting-Stop (Admin-Reset)", async () => {
    const target = sim.sessions().find((s) => s.username === "ros0")!;
    expect(await api.removeActiveSession({ name: "ros0" })).toEqual({ removed: 1 });
    await waitFor(() => acctRecords.some((r) => r.statusType === "Stop" && r.acctSessionId === target.acctSessionId), 5000, "Stop for ros0");
    const stop = acctRecords.find((r) => r.statusType === "Stop" && r.acctSessionId === target.acctSessionId)!;
    expect(stop.terminateCause).toBe("Admin-Reset");
    expect(sim.sessions().some((s) => s.username === "ros0")).toBe(false);
    expect(sim.stats().apiRemovals).toBe(1);
    // Its dynamic queue went with it.
    expect((await api.listQueues()).some((q) => q.name === "<pppoe-ros0>")).toBe(false);
  });

  it("ACK-without-acting mode: Disconnect is ACKed but the session stays; the REST fallback removes it", async () => {
    sim.setCoaMode("ack-without-acting");
    try {
      const before = sim.stats().ackedWithoutActing;
      const result = await disconnect("ros1");
      expect(result.outcome).toBe("ack");
      await new Promise((r) => setTimeout(r, 100));
      expect(sim.sessions().some((s) => s.username === "ros1")).toBe(true);
      expect((await rest.listActiveSessions()).some((s) => s.name === "ros1")).toBe(true);
      expect(sim.stats().ackedWithoutActing).toBe(before + 1);
      // What enforcement does when it cannot trust the ACK: remove through the router's API.
      expect(await rest.removeActiveSession({ name: "ros1" })).toEqual({ removed: 1 });
      await waitFor(() => acctRecords.some((r) => r.statusType === "Stop" && r.userName === "ros1"), 5000, "Stop for ros1");
      expect(sim.sessions().some((s) => s.username === "ros1")).toBe(false);
    } finally {
      sim.setCoaMode("act");
    }
  });

  it("a queue rate set through the API becomes the session's rate; CoA keeps the dynamic queue in step", async () => {
    expect(await api.setQueueRate("ros2", { uploadKbps: 4000, downloadKbps: 20000 })).toEqual({ created: true, changed: true });
    const s = sim.sessions().find((x) => x.username === "ros2")!;
    expect({ up: s.uploadKbps, down: s.downloadKbps }).toEqual({ up: 4000, down: 20000 });

    sim.setCoaMode("ack-without-acting");
    const r3 = sim.sessions().find((x) => x.username === "ros3")!;
    const coaOpts = {
      host: NAS_IP,
      port: sim.coaBoundPort(),
      secret: SECRET,
      attributes: [["Acct-Session-Id", r3.acctSessionId], ["User-Name", "ros3"], ["Mikrotik-Rate-Limit", "1M/5M"]] as Array<[string, string]>,
      timeoutMs: 1000,
      retries: 1,
    };
    expect((await coa.coa(coaOpts)).outcome).toBe("ack");
    expect(sim.sessions().find((x) => x.username === "ros3")!.downloadKbps).toBe(10240); // ACKed, not applied
    sim.setCoaMode("act");
    expect((await coa.coa(coaOpts)).outcome).toBe("ack");
    expect(sim.sessions().find((x) => x.username === "ros3")!.downloadKbps).toBe(5120);
    const dyn = (await api.listQueues()).find((q) => q.name === "<pppoe-ros3>");
    expect(dyn?.rate).toEqual({ uploadKbps: 1024, downloadKbps: 5120 });
  });

  it("refuses to change a dynamic queue, as RouterOS does", async () => {
    const dyn = sim.routerState.print("/queue/simple").find((q) => q.name === "<pppoe-ros2>")!;
    expect(() => sim.routerState.set("/queue/simple", dyn[".id"], { "max-limit": "1/1" })).toThrow(/dynamic/);
  });
});
