// BlastRADIUS (CVE-2024-3596) defences of the auth server: per-NAS Message-Authenticator
// requirement, Proxy-State without Message-Authenticator dropped, and every such drop
// reported through onDrop with what the packet claimed.
import { afterEach, describe, expect, it } from "vitest";
import { encodeRequest } from "./auth";
import { decodePacket, PacketCode } from "./codec";
import { createRadiusServer, type DropReason, type DroppedRequestInfo, type RadiusServer } from "./server";
import { rawSocket, waitFor } from "../testing/udp";

const SECRET = "testing123";
const servers: RadiusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(requireFor: (ip: string) => boolean) {
  const drops: Array<[DropReason, DroppedRequestInfo]> = [];
  const methods: string[] = [];
  const server = createRadiusServer({
    kind: "auth",
    host: "127.0.0.1",
    port: 0,
    secretFor: (ip) => (ip === "127.0.0.1" ? SECRET : undefined),
    requireMessageAuthenticatorFor: requireFor,
    onDrop: (reason, info) => drops.push([reason, info]),
    handler: (req) => {
      methods.push(req.authMethod);
      return { code: PacketCode.AccessAccept };
    },
  });
  const port = await server.start();
  servers.push(server);
  return { server, port, drops, methods };
}

const request = (id: number, opts: { ma: boolean; secret?: string; extra?: Array<[string, string | Buffer]> }) =>
  encodeRequest({
    code: PacketCode.AccessRequest,
    identifier: id,
    secret: opts.secret ?? SECRET,
    attributes: [["User-Name", "alice"], ["User-Password", "pw"], ["Calling-Station-Id", "AA-BB-CC-00-11-22"], ...(opts.extra ?? [])],
    messageAuthenticator: opts.ma,
  }).raw;

describe("BlastRADIUS defences", () => {
  it("a NAS that requires Message-Authenticator: unsigned requests dropped and reported, signed ones answered", async () => {
    const { port, server, drops } = await start(() => true);
    const sock = await rawSocket();
    try {
      sock.send(request(1, { ma: false }), port);
      sock.send(request(2, { ma: true }), port);
      await waitFor(() => sock.received.length === 1 && drops.length === 1);
      expect(decodePacket(sock.received[0]!).identifier).toBe(2);
      expect(server.counters.dropMissingMessageAuthenticator).toBe(1);
      expect(drops[0]).toEqual([
        "missing-message-authenticator",
        { nasIp: "127.0.0.1", srcPort: expect.any(Number), code: PacketCode.AccessRequest, userName: "alice", callingStationId: "AA-BB-CC-00-11-22", authMethod: "pap" },
      ]);
    } finally {
      await sock.close();
    }
  });

  it("a NAS that does not require it: unsigned requests answered, but never with Proxy-State", async () => {
    const { port, server, drops } = await start(() => false);
    const sock = await rawSocket();
    try {
      sock.send(request(3, { ma: false }), port);
      sock.send(request(4, { ma: false, extra: [["Proxy-State", Buffer.from("forged")]] }), port);
      sock.send(request(5, { ma: true, extra: [["Proxy-State", Buffer.from("fine")]] }), port);
      await waitFor(() => sock.received.length === 2 && drops.length === 1);
      expect(sock.received.map((r) => decodePacket(r).identifier).sort()).toEqual([3, 5]);
      expect(server.counters.dropProxyStateWithoutMessageAuthenticator).toBe(1);
      expect(drops[0]?.[0]).toBe("proxy-state-without-message-authenticator");
    } finally {
      await sock.close();
    }
  });

  it("a wrong Message-Authenticator (forged or wrong secret) is dropped and reported", async () => {
    const { port, drops } = await start(() => false);
    const sock = await rawSocket();
    try {
      sock.send(request(6, { ma: true, secret: "not-the-secret" }), port);
      await waitFor(() => drops.length === 1);
      expect(drops[0]?.[0]).toBe("bad-authenticator");
      expect(sock.received).toHaveLength(0);
    } finally {
      await sock.close();
    }
  });

  it("names MS-CHAPv2 requests as such", async () => {
    const { port, methods } = await start(() => false);
    const sock = await rawSocket();
    try {
      const raw = encodeRequest({
        code: PacketCode.AccessRequest,
        identifier: 7,
        secret: SECRET,
        attributes: [["User-Name", "alice"], ["MS-CHAP-Challenge", Buffer.alloc(16, 1)], ["MS-CHAP2-Response", Buffer.alloc(50, 2)]],
      }).raw;
      sock.send(raw, port);
      await waitFor(() => methods.length === 1);
      expect(methods).toEqual(["mschapv2"]);
    } finally {
      await sock.close();
    }
  });
});
