import { describe, expect, it } from "vitest";
import { createTcpFramer } from "./syslog-framing";

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;
const a = "<134>Nov 24 10:15:01 router1 firewall,info srcnat: in:<pppoe-ahmed.khan> out:ether1, len 52";
const b = "<14>1 2026-11-24T05:16:01Z srx-cgn-1 RT_FLOW - RT_FLOW_SESSION_CREATE - session créé"; // multi-byte UTF-8

describe("TCP syslog framing", () => {
  it("octet counting: frames split at every byte boundary come out whole and in order", () => {
    const stream = Buffer.from(octet(a) + octet(b) + octet(a));
    const framer = createTcpFramer(8192);
    const lines: string[] = [];
    for (let i = 0; i < stream.length; i++) {
      const out = framer.push(stream.subarray(i, i + 1));
      expect(out.errors).toEqual([]);
      lines.push(...out.lines);
      expect(framer.bufferedBytes).toBeLessThanOrEqual(8192 + 5);
    }
    expect(framer.mode).toBe("octet");
    expect(lines).toEqual([a, b, a]);
    expect(framer.end()).toEqual({ lines: [], errors: [], fatal: false });
  });

  it("octet counting: a frame whose MSG contains LF stays one frame", () => {
    const framer = createTcpFramer(8192);
    expect(framer.push(Buffer.from(octet("<13>1 - h app - - - two\nlines") + octet(a))).lines).toEqual(["<13>1 - h app - - - two\nlines", a]);
  });

  it("octet counting: a bad length keeps the frames before it, reports the rest and is fatal", () => {
    const framer = createTcpFramer(8192);
    const out = framer.push(Buffer.from(`${octet(a)}${octet(b)}x12 junk`));
    expect(out.lines).toEqual([a, b]);
    expect(out.fatal).toBe(true);
    expect(out.errors).toEqual([{ reason: "framing_bad_length", raw: "x12 junk" }]);
    expect(framer.push(Buffer.from(octet(a)))).toEqual({ lines: [], errors: [], fatal: false });
  });

  it("octet counting: a declared length over the limit is refused before its bytes arrive", () => {
    const framer = createTcpFramer(100);
    const out = framer.push(Buffer.from(`${octet("<13>ok")}200 <13>`));
    expect(out.lines).toEqual(["<13>ok"]);
    expect(out.errors[0]?.reason).toBe("framing_frame_too_long");
    expect(out.fatal).toBe(true);
  });

  it("octet counting: a frame cut off by the end of the connection is reported, not lost", () => {
    const framer = createTcpFramer(8192);
    expect(framer.push(Buffer.from("50 <13>partial")).lines).toEqual([]);
    expect(framer.end().errors).toEqual([{ reason: "truncated_frame", raw: "50 <13>partial" }]);
  });

  it("LF framing: CRLF and LF, lines split across chunks, empty lines ignored, last line without LF kept at end", () => {
    const framer = createTcpFramer(8192);
    const lines: string[] = [];
    for (const part of [`${a}\r\n${b.slice(0, 10)}`, `${b.slice(10)}\n\n`, `${a.slice(0, 5)}`, a.slice(5)]) lines.push(...framer.push(Buffer.from(part)).lines);
    expect(framer.mode).toBe("lf");
    expect(lines).toEqual([a, b]);
    expect(framer.end().lines).toEqual([a]);
  });

  it("LF framing: an over-long line is reported truncated once, the rest of it skipped, and framing resumes", () => {
    const framer = createTcpFramer(64);
    const long = `<13>${"x".repeat(200)}`;
    const r1 = framer.push(Buffer.from(long.slice(0, 100)));
    expect(r1.errors).toEqual([{ reason: "too_long", raw: long.slice(0, 64) }]);
    expect(framer.bufferedBytes).toBe(0);
    const r2 = framer.push(Buffer.from(`${long.slice(100)}\n<13>next\n`));
    expect(r2.errors).toEqual([]);
    expect(r2.lines).toEqual(["<13>next"]);
    // A whole over-long line inside one chunk is reported too.
    const r3 = framer.push(Buffer.from(`${long}\n<13>after\n`));
    expect(r3.errors).toEqual([{ reason: "too_long", raw: long.slice(0, 64) }]);
    expect(r3.lines).toEqual(["<13>after"]);
    expect(r3.fatal).toBe(false);
  });
});
