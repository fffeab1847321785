import { describe, expect, it } from "vitest";
import { createChangeGate, fingerprintOf } from "./change-gate";

describe("change gate (live push throttle)", () => {
  it("pushes the first state, then only changes, at most once per interval per room", () => {
    const gate = createChangeGate(1000);
    expect(gate.shouldPush("noc", "a", 0)).toBe(true);
    expect(gate.shouldPush("noc", "a", 5000)).toBe(false); // unchanged: never
    expect(gate.shouldPush("noc", "b", 5500)).toBe(true);
    expect(gate.shouldPush("noc", "c", 5900)).toBe(false); // changed but too soon
    expect(gate.shouldPush("noc", "c", 6500)).toBe(true);
    expect(gate.shouldPush("subscriber:1", "x", 6501)).toBe(true); // rooms are independent
  });

  it("forget() makes the next push unconditional (used when a room empties)", () => {
    const gate = createChangeGate(1000);
    gate.shouldPush("r", "a", 0);
    gate.forget("r");
    expect(gate.size).toBe(0);
    expect(gate.shouldPush("r", "a", 1)).toBe(true);
  });

  it("fingerprints ignore `at` and render bigints", () => {
    expect(fingerprintOf({ at: 1, n: 5n })).toBe(fingerprintOf({ at: 2, n: 5n }));
    expect(fingerprintOf({ at: 1, n: 5n })).not.toBe(fingerprintOf({ at: 1, n: 6n }));
  });
});
