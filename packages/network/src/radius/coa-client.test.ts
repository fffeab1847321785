import { describe, expect, it } from "vitest";
import { encodeResponse, hasValidMessageAuthenticator, verifyAccountingRequestAuthenticator } from "./auth";
import { CoaClient, sendCoaRequest, sendDisconnectRequest } from "./coa-client";
import { decodePacket, getString, PacketCode, type RadiusPacket } from "./codec";
import { rawSocket } from "../testing/udp";

const SECRET = "coa-secret";

/** A hand-written NAS that first answers with a forged reply (wrong secret), then the real one. */
async function fakeNas(answer: (req: RadiusPacket) => { code: number; attributes?: Array<[string, string | number]> }) {
  const nas = await rawSocket();
  const seen: RadiusPacket[] = [];
  nas.socket.on("message", (msg, rinfo) => {
    const req = decodePacket(Buffer.from(msg));
    seen.push(req);
    const { code, attributes = [] } = answer(req);
    const forged = encodeResponse({ code, identifier: req.identifier, requestAuthenticator: req.authenticator, attributes, secret: "forger" });
    nas.socket.send(forged, rinfo.port, rinfo.address);
    setTimeout(() => {
      const real = encodeResponse({ code, identifier: req.identifier, requestAuthenticator: req.authenticator, attributes, secret: SECRET });
      nas.socket.send(real, rinfo.port, rinfo.address);
    }, 5);
  });
  return { nas, seen, port: nas.socket.address().port };
}

describe("CoA client", () => {
  it("sends an authenticated Disconnect-Request and ignores forged replies", async () => {
    const { nas, seen, port } = await fakeNas(() => ({ code: PacketCode.DisconnectNak, attributes: [["Error-Cause", "Session-Context-Not-Found"]] }));
    const client = new CoaClient();
    const r = await client.disconnect({ host: "127.0.0.1", port, secret: SECRET, attributes: [["User-Name", "alice"], ["Acct-Session-Id", "s1"]], timeoutMs: 1000 });
    expect(r).toMatchObject({ outcome: "nak", errorCause: 503, errorCauseName: "Session-Context-Not-Found", attempts: 1 });
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(client.stats.badResponses).toBe(1);
    const req = seen[0]!;
    expect(req.code).toBe(PacketCode.DisconnectRequest);
    expect(verifyAccountingRequestAuthenticator(req, SECRET)).toBe(true);
    expect(hasValidMessageAuthenticator(req, SECRET)).toBe(true);
    expect(req.attributes[0]!.type).toBe(80);
    expect(getString(req, "User-Name")).toBe("alice");
    expect(req.attributes.some((a) => a.type === 55)).toBe(true); // Event-Timestamp
    await client.close();
    await nas.close();
  });

  it("one-shot helpers report ack for CoA and Disconnect", async () => {
    const { nas, port } = await fakeNas((req) => ({ code: req.code === PacketCode.CoaRequest ? PacketCode.CoaAck : PacketCode.DisconnectAck }));
    expect((await sendCoaRequest({ host: "127.0.0.1", port, secret: SECRET, attributes: [["User-Name", "a"], ["Mikrotik-Rate-Limit", "1M/2M"]] })).outcome).toBe("ack");
    expect((await sendDisconnectRequest({ host: "127.0.0.1", port, secret: SECRET, attributes: [["User-Name", "a"]], localAddress: "127.0.0.1" })).outcome).toBe("ack");
    await nas.close();
  });

  it("retries and times out when nobody answers", async () => {
    const silent = await rawSocket();
    const port = silent.socket.address().port;
    const r = await sendDisconnectRequest({ host: "127.0.0.1", port, secret: SECRET, attributes: [["User-Name", "a"]], timeoutMs: 50, retries: 2 });
    expect(r.outcome).toBe("timeout");
    expect(r.attempts).toBe(3);
    expect(r.latencyMs).toBeGreaterThanOrEqual(140);
    expect(silent.received).toHaveLength(3);
    // Retransmissions repeat the same Identifier and Authenticator (RFC 5176 2.3).
    expect(silent.received[0]!.equals(silent.received[2]!)).toBe(true);
    await silent.close();
  });
});
