import { describe, expect, it } from "vitest";
import { canSeeSubscriber, subscriberScope } from "./scope";

describe("subscriberScope", () => {
  it("leaves staff unscoped", () => {
    for (const role of ["admin", "noc", "support", "manager", "compliance"] as const) {
      expect(subscriberScope({ role, dealerId: null })).toEqual({});
      expect(subscriberScope({ role, dealerId: 7 })).toEqual({});
    }
  });

  it("pins a dealer to their dealer id", () => {
    expect(subscriberScope({ role: "dealer", dealerId: 3 })).toEqual({ dealerId: 3 });
  });

  it("gives a dealer without a dealer row nothing rather than everything", () => {
    const scope = subscriberScope({ role: "dealer", dealerId: null });
    expect(scope.dealerId).toBeDefined();
    expect(scope.dealerId).toBeLessThan(1);
  });
});

describe("canSeeSubscriber", () => {
  it.each([
    [{ role: "support" as const, dealerId: null }, null, true],
    [{ role: "support" as const, dealerId: null }, 2, true],
    [{ role: "dealer" as const, dealerId: 2 }, 2, true],
    [{ role: "dealer" as const, dealerId: 2 }, 3, false],
    [{ role: "dealer" as const, dealerId: 2 }, null, false],
    [{ role: "dealer" as const, dealerId: null }, null, false],
  ])("%o sees dealer %s: %s", (operator, subscriberDealer, expected) => {
    expect(canSeeSubscriber(operator, subscriberDealer)).toBe(expected);
  });
});
