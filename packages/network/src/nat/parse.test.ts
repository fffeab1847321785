import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  OctetFramingError,
  SyslogParseError,
  parseIpv4,
  parseNatLine,
  parsePort,
  parseSyslog,
  splitOctetCounted,
  type NatParseResult,
  type NatRecord,
} from "./parse";

const receivedAt = new Date("2026-11-24T05:20:00Z");

function sampleLines(name: string): string[] {
  return readFileSync(new URL(`./samples/${name}`, import.meta.url), "utf8").split("\n").filter((l) => l.length > 0);
}

const none = { pppoeUser: null, srcMac: null };
function ok(record: Partial<NatRecord> & Pick<NatRecord, "vendor" | "event" | "protocol" | "privateIp" | "publicIp" | "destIp">): NatParseResult {
  return { ok: true, record: { privatePort: null, publicPort: null, destPort: null, ...none, ...record } };
}

// One expectation per line of each sample file, in order; the test fails if a line is added without one.
const expectations: Record<string, Array<{ time: string; host: string | null; result: NatParseResult }>> = {
  "mikrotik.log": [
    {
      time: "2026-11-24T05:15:01.000Z",
      host: "router1",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "tcp", privateIp: "10.0.10.76", privatePort: 61127, publicIp: "203.0.113.10", publicPort: 61127, destIp: "40.127.110.237", destPort: 443, pppoeUser: "ahmed.khan", srcMac: "4c:5e:0c:11:22:33" }),
    },
    {
      time: "2026-11-24T05:15:02.000Z",
      host: "router1",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "udp", privateIp: "10.0.10.91", privatePort: 53012, publicIp: "203.0.113.10", publicPort: 1034, destIp: "8.8.8.8", destPort: 53, pppoeUser: "bilal-0321" }),
    },
    {
      time: "2026-11-24T05:15:03.000Z",
      host: "router1",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "icmp", privateIp: "10.0.10.76", publicIp: "203.0.113.10", destIp: "8.8.8.8", pppoeUser: "ahmed.khan", srcMac: "4c:5e:0c:11:22:33" }),
    },
    {
      time: "2026-11-24T05:15:04.000Z",
      host: "router1",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "tcp", privateIp: "10.0.11.4", privatePort: 49822, publicIp: "203.0.113.11", publicPort: 49822, destIp: "142.250.181.14", destPort: 443, pppoeUser: "sana_r" }),
    },
    {
      time: "2026-11-24T05:15:05.250Z",
      host: "core-gw",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "udp", privateIp: "100.64.20.17", privatePort: 40000, publicIp: "203.0.113.12", publicPort: 40000, destIp: "157.240.227.35", destPort: 3478, srcMac: "00:0c:29:ab:cd:ef" }),
    },
    {
      time: "2026-11-24T05:15:06.000Z",
      host: "router1",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "gre", privateIp: "10.0.10.5", publicIp: "203.0.113.10", destIp: "198.51.100.7", pppoeUser: "kamran" }),
    },
    {
      time: "2026-11-04T04:01:07.000Z",
      host: "router2",
      result: ok({ vendor: "mikrotik", event: "packet", protocol: "tcp", privateIp: "192.168.88.254", privatePort: 50432, publicIp: "39.40.12.7", publicPort: 50432, destIp: "13.107.42.14", destPort: 443, srcMac: "2c:c8:1b:00:aa:01" }),
    },
  ],
  "juniper-srx.log": [
    {
      time: "2026-11-24T05:16:00.000Z",
      host: "srx-cgn-1",
      result: ok({ vendor: "juniper", event: "open", protocol: "tcp", privateIp: "100.64.1.5", privatePort: 52012, publicIp: "203.0.113.20", publicPort: 40001, destIp: "93.184.216.34", destPort: 443 }),
    },
    {
      time: "2026-11-24T05:16:01.000Z",
      host: "srx-cgn-1",
      result: ok({ vendor: "juniper", event: "open", protocol: "udp", privateIp: "100.64.1.9", privatePort: 61002, publicIp: "203.0.113.20", publicPort: 18234, destIp: "1.1.1.1", destPort: 53 }),
    },
    {
      time: "2026-11-24T05:16:40.000Z",
      host: "srx-cgn-1",
      result: ok({ vendor: "juniper", event: "close", protocol: "tcp", privateIp: "100.64.1.5", privatePort: 52012, publicIp: "203.0.113.20", publicPort: 40001, destIp: "93.184.216.34", destPort: 443 }),
    },
    {
      time: "2026-11-24T05:16:02.000Z",
      host: "srx-cgn-1",
      result: ok({ vendor: "juniper", event: "open", protocol: "icmp", privateIp: "100.64.2.33", publicIp: "203.0.113.21", destIp: "8.8.8.8" }),
    },
    {
      time: "2026-11-24T05:16:03.000Z",
      host: "srx-edge",
      result: ok({ vendor: "juniper", event: "open", protocol: "tcp", privateIp: "10.20.0.14", privatePort: 50122, publicIp: "203.0.113.22", publicPort: 2311, destIp: "104.16.132.229", destPort: 80 }),
    },
    {
      time: "2026-11-24T05:16:04.500Z",
      host: "srx-cgn-2",
      result: ok({ vendor: "juniper", event: "close", protocol: "tcp", privateIp: "100.64.9.200", privatePort: 40500, publicIp: "203.0.113.23", publicPort: 61000, destIp: "20.190.160.1", destPort: 443 }),
    },
  ],
  "cisco.log": [
    {
      time: "2026-11-24T05:17:00.000Z",
      host: "asr1k-cgn",
      result: ok({ vendor: "cisco", event: "open", protocol: "tcp", privateIp: "100.64.0.10", privatePort: 5050, publicIp: "203.0.113.5", publicPort: 1024, destIp: "93.184.216.34", destPort: 443 }),
    },
    {
      time: "2026-11-24T05:17:31.000Z",
      host: "asr1k-cgn",
      result: ok({ vendor: "cisco", event: "close", protocol: "udp", privateIp: "100.64.0.11", privatePort: 41000, publicIp: "203.0.113.5", publicPort: 1025, destIp: "8.8.4.4", destPort: 53 }),
    },
    // IOS puts a sequence number where RFC 3164 wants the timestamp: receipt time stands in.
    {
      time: receivedAt.toISOString(),
      host: null,
      result: ok({ vendor: "cisco", event: "open", protocol: "tcp", privateIp: "192.168.10.23", privatePort: 51234, publicIp: "203.0.113.6", publicPort: 51234, destIp: "172.217.19.4", destPort: 443 }),
    },
    {
      time: receivedAt.toISOString(),
      host: null,
      result: ok({ vendor: "cisco", event: "close", protocol: "udp", privateIp: "192.168.10.23", privatePort: 60001, publicIp: "203.0.113.6", publicPort: 60001, destIp: "1.1.1.1", destPort: 53 }),
    },
    {
      time: receivedAt.toISOString(),
      host: null,
      result: ok({ vendor: "cisco", event: "open", protocol: "icmp", privateIp: "192.168.10.23", publicIp: "203.0.113.6", destIp: "8.8.8.8" }),
    },
  ],
};

const malformedReasons: Array<[string, NatParseResult]> = [
  ["mikrotik cut inside the NAT tuple", { ok: false, reason: "malformed", vendor: "mikrotik" }],
  ["mikrotik cut inside the last port", { ok: false, reason: "malformed", vendor: "mikrotik" }],
  ["mikrotik dstnat (port forward)", { ok: false, reason: "not_srcnat", vendor: "mikrotik" }],
  ["mikrotik filter log without NAT", { ok: false, reason: "not_nat", vendor: "mikrotik" }],
  ["mikrotik octet 256", { ok: false, reason: "invalid_ip", vendor: "mikrotik" }],
  ["mikrotik public port 70000", { ok: false, reason: "invalid_port", vendor: "mikrotik" }],
  ["mikrotik pppoe login", { ok: false, reason: "not_nat", vendor: null }],
  ["juniper session deny", { ok: false, reason: "not_nat", vendor: "juniper" }],
  ["juniper truncated", { ok: false, reason: "malformed", vendor: "juniper" }],
  ["juniper session without source NAT", { ok: false, reason: "not_nat", vendor: "juniper" }],
  ["juniper octet 300", { ok: false, reason: "invalid_ip", vendor: "juniper" }],
  ["cisco truncated", { ok: false, reason: "malformed", vendor: "cisco" }],
  ["cisco port 65536", { ok: false, reason: "invalid_port", vendor: "cisco" }],
  ["cisco non-NAT message", { ok: false, reason: "not_nat", vendor: null }],
];

describe("sample files", () => {
  for (const [file, expected] of Object.entries(expectations)) {
    const lines = sampleLines(file);
    it(`${file} has one expectation per line`, () => {
      expect(lines).toHaveLength(expected.length);
    });
    it.each(lines.map((line, i) => [i + 1, line, expected[i]!] as const))(`${file} line %i`, (_n, line, want) => {
      const syslog = parseSyslog(line, receivedAt);
      expect(syslog.time.toISOString()).toBe(want.time);
      expect(syslog.host).toBe(want.host);
      expect(parseNatLine(syslog.message)).toEqual(want.result);
    });
  }

  const bad = sampleLines("malformed.log");
  it("malformed.log has one expectation per line", () => {
    expect(bad).toHaveLength(malformedReasons.length);
  });
  it.each(bad.map((line, i) => [malformedReasons[i]![0], line, malformedReasons[i]![1]] as const))("malformed.log: %s", (_name, line, want) => {
    expect(parseNatLine(parseSyslog(line, receivedAt).message)).toEqual(want);
  });
});

describe("parseNatLine", () => {
  const tcp = (src: string, pub: string, dst: string) =>
    `srcnat: in:<pppoe-u> out:ether1, connection-state:new proto TCP (SYN), ${src}->${dst}, NAT (${src}->${pub})->${dst}, len 52`;

  it.each([
    ["private octet 256", tcp("10.0.0.256:1000", "203.0.113.1:1000", "8.8.8.8:443"), "invalid_ip"],
    ["public octet 999", tcp("10.0.0.1:1000", "203.0.113.999:1000", "8.8.8.8:443"), "invalid_ip"],
    ["leading-zero octet", tcp("10.0.0.01:1000", "203.0.113.1:1000", "8.8.8.8:443"), "invalid_ip"],
    ["private port 65536", tcp("10.0.0.1:65536", "203.0.113.1:1000", "8.8.8.8:443"), "invalid_port"],
    ["dest port 99999", tcp("10.0.0.1:1000", "203.0.113.1:1000", "8.8.8.8:99999"), "invalid_port"],
    ["six-digit port", tcp("10.0.0.1:1000", "203.0.113.1:123456", "8.8.8.8:443"), "invalid_port"],
    ["TCP without ports", tcp("10.0.0.1", "203.0.113.1", "8.8.8.8"), "malformed"],
    ["three-octet address", tcp("10.0.1:1000", "203.0.113.1:1000", "8.8.8.8:443"), "malformed"],
  ])("rejects %s", (_name, line, reason) => {
    expect(parseNatLine(line)).toMatchObject({ ok: false, reason });
  });

  it("accepts the extremes of the ranges", () => {
    expect(parseNatLine(tcp("255.255.255.255:65535", "0.0.0.0:0", "1.2.3.4:1"))).toMatchObject({
      ok: true,
      record: { privateIp: "255.255.255.255", privatePort: 65535, publicIp: "0.0.0.0", publicPort: 0 },
    });
  });

  it.each([
    ["", "not_nat"],
    ["just some text", "not_nat"],
    ["RT_FLOW_SESSION_CREATE", "malformed"],
    ["%IPNAT-6-CREATED:", "malformed"],
    ["srcnat: in:<pppoe-x> NAT (", "malformed"],
    ["x".repeat(5000), "too_long"],
  ])("does not throw on %j", (line, reason) => {
    expect(parseNatLine(line)).toMatchObject({ ok: false, reason });
  });

  it("returns a failure, not an exception, for a non-string", () => {
    expect(parseNatLine(undefined as unknown as string)).toEqual({ ok: false, reason: "malformed", vendor: null });
  });

  it("parses 100k MikroTik lines correctly", () => {
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const port = 1024 + (i % 64_000);
      const host = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      lines.push(
        `srcnat: in:<pppoe-user${i}> out:ether1, connection-state:new src-mac 4c:5e:0c:11:22:33, proto TCP (SYN), ${host}:${port}->40.127.110.237:443, NAT (${host}:${port}->203.0.113.10:${port})->40.127.110.237:443, len 52`,
      );
    }
    let parsed = 0;
    for (let i = 0; i < lines.length; i++) {
      const r = parseNatLine(lines[i]!);
      if (!r.ok || r.record.pppoeUser !== `user${i}` || r.record.publicPort !== 1024 + (i % 64_000) || r.record.privateIp !== `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) {
        throw new Error(`line ${i} parsed wrongly: ${JSON.stringify(r)}`);
      }
      parsed++;
    }
    expect(parsed).toBe(100_000);
  });
});

describe("parseIpv4 / parsePort", () => {
  it.each([
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["256.0.0.1", null],
    ["1.2.3", null],
    ["1.2.3.4.5", null],
    ["1..3.4", null],
    ["01.2.3.4", null],
    ["1.2.3.4 ", null],
    ["", null],
  ])("parseIpv4(%j) = %j", (text, want) => {
    expect(parseIpv4(text)).toBe(want);
  });

  it.each([
    ["0", 0],
    ["65535", 65535],
    ["65536", null],
    ["080", null],
    ["", null],
    ["12a", null],
  ])("parsePort(%j) = %j", (text, want) => {
    expect(parsePort(text)).toBe(want);
  });
});

describe("parseSyslog", () => {
  it("splits PRI into facility and severity", () => {
    const m = parseSyslog("<134>Nov 24 10:15:01 router1 firewall,info hello", receivedAt);
    expect(m).toMatchObject({ format: "rfc3164", facility: 16, severity: 6, host: "router1", message: "firewall,info hello", timeSource: "header" });
  });

  it.each([
    // [stamp, receivedAt, expected UTC] with the default PKT (+05:00) offset
    ["Dec 31 23:59:59", "2027-01-01T00:00:30+05:00", "2026-12-31T18:59:59.000Z"],
    ["Jan  1 00:00:05", "2026-12-31T23:59:58+05:00", "2026-12-31T19:00:05.000Z"],
    ["Nov  4 09:01:07", "2026-11-04T09:01:10+05:00", "2026-11-04T04:01:07.000Z"],
    ["Feb 29 12:00:00", "2028-02-29T12:00:01+05:00", "2028-02-29T07:00:00.000Z"],
    ["Jun 30 12:00:00.250", "2026-06-30T12:00:00+05:00", "2026-06-30T07:00:00.250Z"],
  ])("RFC 3164 %s received %s is %s", (stamp, received, want) => {
    expect(parseSyslog(`<13>${stamp} h msg`, new Date(received)).time.toISOString()).toBe(want);
  });

  it("takes the RFC 3164 offset from options", () => {
    expect(parseSyslog("<13>Nov 24 10:15:01 h msg", receivedAt, { rfc3164UtcOffsetMinutes: 0 }).time.toISOString()).toBe("2026-11-24T10:15:01.000Z");
  });

  it("parses RFC 5424 with structured data and a BOM", () => {
    const m = parseSyslog('<165>1 2026-11-24T10:15:01.123456+05:00 host app 42 ID7 [a@1 k="v\\]x" j="y"][b@2] \uFEFFhello world\n', receivedAt);
    expect(m).toEqual({
      format: "rfc5424",
      timeSource: "header",
      time: new Date("2026-11-24T05:15:01.123Z"),
      host: "host",
      facility: 20,
      severity: 5,
      appName: "app",
      structuredData: '[a@1 k="v\\]x" j="y"][b@2]',
      message: "hello world",
    });
  });

  it("parses RFC 5424 nil values and an empty message", () => {
    expect(parseSyslog("<134>1 - - - - - -", receivedAt)).toMatchObject({ time: receivedAt, timeSource: "received", host: null, appName: null, structuredData: null, message: "" });
    expect(parseSyslog("<134>1 2026-11-24T05:15:01Z h a - - -", receivedAt).time.toISOString()).toBe("2026-11-24T05:15:01.000Z");
  });

  it.each([
    ["no PRI", "Nov 24 10:15:01 h msg", "missing_pri"],
    ["PRI over 191", "<192>Nov 24 10:15:01 h msg", "bad_pri"],
    ["PRI with leading zero", "<013>Nov 24 10:15:01 h msg", "bad_pri"],
    ["RFC 3164 Feb 30", "<13>Feb 30 10:15:01 h msg", "bad_timestamp"],
    ["RFC 3164 hour 24", "<13>Nov 24 24:15:01 h msg", "bad_timestamp"],
    ["RFC 5424 short header", "<13>1 2026-11-24T05:15:01Z host", "bad_header"],
    ["RFC 5424 no zone", "<13>1 2026-11-24T05:15:01 h a - - - m", "bad_timestamp"],
    ["RFC 5424 month 13", "<13>1 2026-13-24T05:15:01Z h a - - - m", "bad_timestamp"],
    ["RFC 5424 unterminated SD", '<13>1 2026-11-24T05:15:01Z h a - - [x k="v] m', "bad_header"],
    ["too long", `<13>Nov 24 10:15:01 h ${"x".repeat(9000)}`, "too_long"],
  ])("rejects %s", (_name, line, reason) => {
    let error: unknown;
    try {
      parseSyslog(line, receivedAt);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SyslogParseError);
    expect((error as SyslogParseError).reason).toBe(reason);
  });
});

describe("splitOctetCounted", () => {
  const b = (s: string) => Buffer.from(s, "utf8");
  const strings = (frames: Buffer[]) => frames.map((f) => f.toString("utf8"));

  it("splits whole frames and keeps a partial one", () => {
    const { frames, remainder } = splitOctetCounted(b("5 hello3 abc11 hello"));
    expect(strings(frames)).toEqual(["hello", "abc"]);
    expect(remainder.toString()).toBe("11 hello");
  });

  it("reassembles a frame split across chunks at every byte", () => {
    // "é" is two octets: MSG-LEN counts bytes, not characters, and a cut may fall inside it.
    const stream = b("11 <13>x hello8 <13>y é11 <13>z world");
    const want = ["<13>x hello", "<13>y é", "<13>z world"];
    for (let cut = 0; cut <= stream.length; cut++) {
      const first = splitOctetCounted(stream.subarray(0, cut));
      const second = splitOctetCounted(Buffer.concat([first.remainder, stream.subarray(cut)]));
      expect([...strings(first.frames), ...strings(second.frames)]).toEqual(want);
      expect(second.remainder.length).toBe(0);
    }
  });

  it("keeps an incomplete length prefix", () => {
    const r = splitOctetCounted(b("12"));
    expect(r.frames).toEqual([]);
    expect(r.remainder.toString()).toBe("12");
  });

  it.each([
    ["letter in length", "5 hello x", "bad_length"],
    ["leading zero", "05 hello", "bad_length"],
    ["space with no length", " hello", "bad_length"],
    ["length over the bound", "101 x", "frame_too_long"],
    ["a long run of digits", "123456789", "frame_too_long"],
    ["digits alone over the bound", "1000", "frame_too_long"],
  ])("rejects %s", (_name, text, reason) => {
    expect(() => splitOctetCounted(b(text), 100)).toThrow(OctetFramingError);
    try {
      splitOctetCounted(b(text), 100);
    } catch (e) {
      expect((e as OctetFramingError).reason).toBe(reason);
    }
  });

  it("accepts a frame of exactly the bound", () => {
    expect(splitOctetCounted(b(`100 ${"x".repeat(100)}`), 100).frames[0]!.length).toBe(100);
  });
});
