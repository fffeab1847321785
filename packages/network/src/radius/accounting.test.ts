import { describe, expect, it } from "vitest";
import { combineOctets, parseAccountingRequest, splitOctets } from "./accounting";
import { encodeRequest } from "./auth";
import { decodePacket, PacketCode } from "./codec";

describe("accounting", () => {
  it("combines gigawords into 64-bit counters", () => {
    expect(combineOctets(5, 0)).toBe(5n);
    expect(combineOctets(1, 3)).toBe(3n * 4294967296n + 1n);
    expect(combineOctets(undefined, undefined)).toBe(0n);
    const big = 123_456_789_012_345n;
    const [o, g] = splitOctets(big);
    expect(combineOctets(o, g)).toBe(big);
  });

  it("parses an Interim-Update with gigawords > 0", () => {
    const at = new Date("2026-01-01T10:00:00Z");
    const { raw } = encodeRequest({
      code: PacketCode.AccountingRequest,
      identifier: 1,
      secret: "s",
      attributes: [
        ["Acct-Status-Type", "Interim-Update"],
        ["Acct-Session-Id", "81a00001"],
        ["User-Name", "alice"],
        ["NAS-IP-Address", "10.0.0.1"],
        ["Framed-IP-Address", "100.64.0.9"],
        ["Calling-Station-Id", "AA:BB:CC:DD:EE:FF"],
        ["NAS-Port-Id", "pppoe-alice"],
        ["Acct-Session-Time", 3600],
        ["Acct-Input-Octets", 1000],
        ["Acct-Input-Gigawords", 0],
        ["Acct-Output-Octets", 7],
        ["Acct-Output-Gigawords", 2],
        ["Acct-Delay-Time", 4],
        ["Event-Timestamp", at],
      ],
    });
    const r = parseAccountingRequest(decodePacket(raw));
    expect(r).toMatchObject({
      statusType: "Interim-Update",
      statusTypeCode: 3,
      acctSessionId: "81a00001",
      userName: "alice",
      nasIp: "10.0.0.1",
      framedIp: "100.64.0.9",
      callingStationId: "AA:BB:CC:DD:EE:FF",
      nasPortId: "pppoe-alice",
      sessionTime: 3600,
      inputOctets: 1000n,
      outputOctets: 2n * 4294967296n + 7n,
      delayTime: 4,
      terminateCause: undefined,
    });
    expect(r.eventTimestamp?.getTime()).toBe(at.getTime());
  });

  it("parses a Stop with its terminate cause", () => {
    const { raw } = encodeRequest({
      code: PacketCode.AccountingRequest,
      identifier: 2,
      secret: "s",
      attributes: [
        ["Acct-Status-Type", "Stop"],
        ["Acct-Session-Id", "x"],
        ["Acct-Terminate-Cause", "Admin-Reset"],
      ],
    });
    const r = parseAccountingRequest(decodePacket(raw));
    expect(r.statusType).toBe("Stop");
    expect(r.terminateCause).toBe("Admin-Reset");
    expect(r.terminateCauseCode).toBe(6);
    expect(r.inputOctets).toBe(0n);
    expect(r.delayTime).toBe(0);
  });
});
