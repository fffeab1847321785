import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { parseNatLine, parseSyslog } from "../nat/parse";
import { mikrotikNatLine, NatSyslogSender, rfc3164Stamp } from "./nat-syslog";

const session = { username: "ahmed.khan", framedIp: "10.0.10.76", callingStationId: "4C-5E-0C-11-22-33" };

describe("simulated MikroTik NAT syslog", () => {
  it("lines parse back to what was meant, with PKT wall time", () => {
    const at = new Date("2026-11-04T04:01:07.400Z");
    expect(rfc3164Stamp(at, 300)).toBe("Nov  4 09:01:07");
    for (const protocol of ["tcp", "udp", "icmp"] as const) {
      const line = mikrotikNatLine(session, { protocol, privatePort: 61127, publicPort: 1034, destIp: "8.8.8.8", destPort: 53 }, "203.0.113.10", "KHI-BNG-01", at);
      const msg = parseSyslog(line, at);
      expect(msg.time.toISOString()).toBe("2026-11-04T04:01:07.000Z");
      expect(msg.host).toBe("KHI-BNG-01");
      const nat = parseNatLine(msg.message);
      expect(nat).toEqual({
        ok: true,
        record: {
          vendor: "mikrotik",
          event: "packet",
          protocol,
          privateIp: "10.0.10.76",
          privatePort: protocol === "icmp" ? null : 61127,
          publicIp: "203.0.113.10",
          publicPort: protocol === "icmp" ? null : 1034,
          destIp: "8.8.8.8",
          destPort: protocol === "icmp" ? null : 53,
          pppoeUser: "ahmed.khan",
          srcMac: "4c:5e:0c:11:22:33",
        },
      });
    }
  });

  it("sends about linesPerSecond datagrams from the router's address, only while sessions are up", async () => {
    const server = createSocket("udp4");
    await new Promise<void>((r) => server.bind(0, "127.0.0.1", () => r()));
    const got: { text: string; from: string }[] = [];
    server.on("message", (m, rinfo) => got.push({ text: m.toString(), from: rinfo.address }));
    let up = [session];
    const sender = new NatSyslogSender({
      sourceIp: "127.0.0.1",
      hostname: "KHI-BNG-01",
      serverHost: "127.0.0.1",
      serverPort: server.address().port,
      publicIp: "203.0.113.10",
      linesPerSecond: 50,
      sessions: () => up,
      seed: 7,
    });
    await sender.start();
    await new Promise((r) => setTimeout(r, 650));
    up = [];
    const sentWhileUp = sender.sent;
    await new Promise((r) => setTimeout(r, 300));
    await sender.stop();
    server.close();
    expect(sentWhileUp).toBeGreaterThanOrEqual(20);
    expect(sender.sent).toBe(sentWhileUp);
    expect(got.length).toBe(sender.sent);
    expect(got.every((g) => g.from === "127.0.0.1" && parseNatLine(parseSyslog(g.text, new Date()).message).ok)).toBe(true);
  });
});
