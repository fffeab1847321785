// Fuzzing what a NAS can send: 100,000 mutated, truncated and random packets through the
// decoder and everything the collector calls on a decoded packet (getters, accounting parse,
// PAP/CHAP/MS-CHAP checks), then a burst of garbage at a live server that must keep answering.
import { describe, expect, it } from "vitest";
import { parseAccountingRequest } from "./accounting";
import { encodeRequest, papPassword, verifyChap } from "./auth";
import { decodePacket, describeAttributes, encodePacket, getBuffer, PacketCode, RadiusDecodeError } from "./codec";
import { verifyMsChapV1, verifyMsChapV2 } from "./mschap";
import { createRadiusServer } from "./server";
import { rawSocket, waitFor } from "../testing/udp";

const SECRET = "fuzz-secret";

/** Deterministic PRNG (so a failure reproduces), 32-bit LCG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

const corpus: Buffer[] = [
  encodeRequest({ code: PacketCode.AccessRequest, identifier: 1, secret: SECRET, attributes: [["User-Name", "ahmed.khan"], ["User-Password", "Karachi-2026"], ["NAS-IP-Address", "127.0.0.1"], ["Calling-Station-Id", "4C:5E:0C:11:22:33"]] }).raw,
  encodeRequest({ code: PacketCode.AccessRequest, identifier: 2, secret: SECRET, attributes: [["User-Name", "bob"], ["CHAP-Password", Buffer.alloc(17, 7)], ["CHAP-Challenge", Buffer.alloc(16, 9)]] }).raw,
  encodeRequest({
    code: PacketCode.AccessRequest,
    identifier: 3,
    secret: SECRET,
    attributes: [["User-Name", "carol"], ["MS-CHAP-Challenge", Buffer.alloc(16, 1)], ["MS-CHAP2-Response", Buffer.alloc(50, 2)], ["Proxy-State", Buffer.from("ps")]],
  }).raw,
  encodeRequest({
    code: PacketCode.AccountingRequest,
    identifier: 4,
    secret: SECRET,
    attributes: [
      ["Acct-Status-Type", "Interim-Update"],
      ["Acct-Session-Id", "81a00001"],
      ["User-Name", "dave"],
      ["Framed-IP-Address", "10.0.10.76"],
      ["Acct-Input-Octets", 5],
      ["Acct-Input-Gigawords", 2],
      ["Acct-Output-Octets", 7],
      ["Acct-Output-Gigawords", 1],
      ["Acct-Session-Time", 3600],
      ["Acct-Delay-Time", 2],
      ["Event-Timestamp", new Date("2026-11-24T05:00:00Z")],
    ],
  }).raw,
  encodePacket({ code: PacketCode.DisconnectNak, identifier: 5, attributes: [["Error-Cause", 503]] }),
  encodePacket({ code: PacketCode.AccessAccept, identifier: 6, attributes: [["Mikrotik-Rate-Limit", "2M/8M 4M/16M 1M/4M 8/8"], ["Cisco-AVPair", "ip:addr-pool=p1"], ["Session-Timeout", 86400]] }),
];

function mutate(rnd: () => number, i: number): Buffer {
  const base = corpus[i % corpus.length]!;
  switch (i % 6) {
    case 0: // truncated anywhere
      return base.subarray(0, Math.floor(rnd() * base.length));
    case 1: {
      // a few random bytes
      const b = Buffer.from(base);
      const n = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return b;
    }
    case 2: {
      // attribute length bytes lied about (past the first 20 header bytes)
      const b = Buffer.from(base);
      if (b.length > 22) b[20 + Math.floor(rnd() * (b.length - 21))] = [0, 1, 2, 255][Math.floor(rnd() * 4)]!;
      return b;
    }
    case 3: {
      // header length field lied about
      const b = Buffer.from(base);
      b.writeUInt16BE(Math.floor(rnd() * 5000), 2);
      return b;
    }
    case 4: {
      // random bytes with a plausible header
      const len = 20 + Math.floor(rnd() * 300);
      const b = Buffer.alloc(len);
      for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
      b[0] = [1, 4, 40, 41, 42, 43, 44, 45][Math.floor(rnd() * 8)]!;
      b.writeUInt16BE(rnd() < 0.8 ? len : Math.floor(rnd() * 65536), 2);
      return b;
    }
    default: {
      // two packets spliced
      const other = corpus[Math.floor(rnd() * corpus.length)]!;
      const cut = Math.floor(rnd() * base.length);
      return Buffer.concat([base.subarray(0, cut), other.subarray(Math.floor(rnd() * other.length))]);
    }
  }
}

describe("fuzzing the RADIUS decoder and the checks run on decoded packets", () => {
  it("100,000 mutated, truncated and random packets: only RadiusDecodeError, never a crash", () => {
    const rnd = prng(20261124);
    const counts = { decoded: 0, rejected: 0 };
    for (let i = 0; i < 100_000; i++) {
      const buf = mutate(rnd, i);
      let packet;
      try {
        packet = decodePacket(buf);
      } catch (err) {
        if (!(err instanceof RadiusDecodeError)) throw new Error(`case ${i}: ${String(err)} for ${buf.toString("hex")}`, { cause: err });
        counts.rejected++;
        continue;
      }
      counts.decoded++;
      try {
        describeAttributes(packet);
        if (packet.code === PacketCode.AccountingRequest) parseAccountingRequest(packet);
        papPassword(packet, SECRET);
        verifyChap(packet, "password");
        const v2 = getBuffer(packet, "MS-CHAP2-Response");
        const challenge = getBuffer(packet, "MS-CHAP-Challenge");
        if (v2 && challenge) verifyMsChapV2({ username: "carol", password: "pw", response: v2, authenticatorChallenge: challenge });
        const v1 = getBuffer(packet, "MS-CHAP-Response");
        if (v1 && challenge) verifyMsChapV1({ password: "pw", challenge, response: v1 });
      } catch (err) {
        // A decoded packet may still hold a wrongly sized value; that must surface as a decode error too.
        if (!(err instanceof RadiusDecodeError)) throw new Error(`case ${i}: ${String(err)} for ${buf.toString("hex")}`, { cause: err });
      }
    }
    expect(counts.decoded + counts.rejected).toBe(100_000);
    expect(counts.decoded).toBeGreaterThan(10_000);
    expect(counts.rejected).toBeGreaterThan(10_000);
  });

  it("a live server takes 5,000 garbage datagrams, counts them and still answers a good request", async () => {
    const server = createRadiusServer({
      kind: "auth",
      host: "127.0.0.1",
      port: 0,
      secretFor: (ip) => (ip === "127.0.0.1" ? SECRET : undefined),
      handler: (req) => (req.papPassword() === "Karachi-2026" ? { code: PacketCode.AccessAccept, attributes: [] } : { code: PacketCode.AccessReject, attributes: [] }),
    });
    const port = await server.start();
    const sock = await rawSocket();
    try {
      const rnd = prng(7);
      for (let i = 0; i < 5_000; i++) {
        sock.send(mutate(rnd, i), port);
        if (i % 500 === 499) await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor(() => server.counters.received >= 4_500, 10_000, "the garbage to arrive");
      const good = encodeRequest({ code: PacketCode.AccessRequest, identifier: 200, secret: SECRET, attributes: [["User-Name", "ahmed.khan"], ["User-Password", "Karachi-2026"]] });
      const before = sock.received.length;
      sock.send(good.raw, port);
      await waitFor(() => sock.received.slice(before).some((r) => r[1] === 200 && r[0] === PacketCode.AccessAccept), 5_000, "the good request's Accept");
      const c = server.counters;
      expect(c.dropMalformed).toBeGreaterThan(100);
      expect(c.handlerErrors + c.encodeErrors + c.sendErrors).toBe(0);
    } finally {
      await sock.close();
      await server.stop();
    }
  });
});
