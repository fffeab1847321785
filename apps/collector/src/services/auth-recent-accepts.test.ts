// The 15 s reservations of auth-service.ts (typed-array ring) and the numeric MAC key they use.
import { describe, expect, it } from "vitest";
import { normaliseMac } from "./auth-decision";
import { createRecentAccepts, macNumber } from "./auth-service";

describe("macNumber", () => {
  it("accepts exactly what normaliseMac accepts, as the same 48-bit value", () => {
    const alphabet = ["a", "B", "f", "F", "0", "9", "g", "z", ":", "-", ".", " ", "\t", "\u00a0", "\u2003", "\ufeff", "_", "é", "K"];
    const samples = ["AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff", " aa bb cc dd ee ff ", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "", "xx:bb:cc:dd:ee:ff"];
    for (let n = 0; n < 20_000; n++) {
      let t = "";
      const len = n % 3 === 0 ? 12 + (n % 7) : n % 25;
      for (let i = 0; i < len; i++) t += Math.random() < 0.8 ? "0123456789abcdefABCDEF"[Math.floor(Math.random() * 22)] : alphabet[Math.floor(Math.random() * alphabet.length)];
      samples.push(t);
    }
    for (const s of samples) {
      const norm = normaliseMac(s);
      const num = macNumber(s);
      if (norm === null) expect(num, s).toBe(-1);
      else expect(num, s).toBe(parseInt(norm.replace(/:/g, ""), 16));
    }
    expect(macNumber(null)).toBe(-1);
  });
});

describe("recent accepts (reservations before Accounting-Start)", () => {
  const mac1 = macNumber("aa:aa:aa:aa:aa:01");
  const mac2 = macNumber("aa:aa:aa:aa:aa:02");

  it("counts other devices, replaces the same device, expires after the window, and can be undone", () => {
    let t = 1_000_000;
    const r = createRecentAccepts(15_000, () => t, 16);
    r.add(7, 1, mac1);
    expect(r.others(7, 1, mac1, [])).toBe(0); // the same device
    expect(r.others(7, 1, mac2, [])).toBe(1); // another device
    expect(r.others(7, 2, mac1, [])).toBe(1); // the same device on another NAS
    r.add(7, 1, mac1); // a retry replaces its own entry
    expect(r.others(7, 1, mac2, [])).toBe(1);
    const h = r.add(7, 1, mac2);
    expect(r.others(7, 3, -1, [])).toBe(2);
    // An entry already visible as an active session is not counted twice.
    expect(r.others(7, 3, -1, [{ router_id: 1, calling_station_id: "AA-AA-AA-AA-AA-02" }])).toBe(1);
    r.remove(7, h);
    expect(r.others(7, 3, -1, [])).toBe(1);
    r.remove(7, h); // twice is harmless
    expect(r.others(7, 3, -1, [])).toBe(1);
    t += 15_000;
    expect(r.others(7, 3, -1, [])).toBe(0);
    expect(r.size).toBe(0);
    expect(r.others(8, 1, mac1, [])).toBe(0);
  });

  it("without Calling-Station-Id the same NAS replaces its entry", () => {
    const r = createRecentAccepts(15_000, () => 0, 16);
    r.add(1, 5, -1);
    r.add(1, 5, -1);
    expect(r.others(1, 6, -1, [])).toBe(1);
    expect(r.others(1, 6, -1, [{ router_id: 5, calling_station_id: null }])).toBe(0);
  });

  it("is bounded: the oldest reservation is forgotten when the ring is full, others stay intact", () => {
    let t = 0;
    const r = createRecentAccepts(15_000, () => t, 8);
    const handles: number[] = [];
    for (let id = 1; id <= 12; id++) {
      t++;
      handles.push(r.add(id, 1, mac1));
      r.add(100, id, mac2); // one subscriber with many NAS entries, interleaved
    }
    // 24 adds into 8 slots: the newest 4 subscribers and 4 of subscriber 100's entries remain.
    for (let id = 1; id <= 8; id++) expect(r.others(id, 9, mac2, [])).toBe(0);
    for (let id = 9; id <= 12; id++) expect(r.others(id, 9, mac2, [])).toBe(1);
    expect(r.others(100, 99, mac1, [])).toBe(4);
    // A handle whose slot was reused does not remove the new owner.
    r.remove(1, handles[0]!);
    expect(r.others(100, 99, mac1, [])).toBe(4);
  });
});
