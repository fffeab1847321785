import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acceptReasons, describeAuthAttempt, describeAuthReason, dropReasons, reasonOptions, rejectReasons } from "./auth-reasons";

// The web app may not import the collector; read its source to keep the lists in step.
const decisionTs = readFileSync(join(import.meta.dirname, "../../../collector/src/services/auth-decision.ts"), "utf8");

function unionMembers(typeName: string): string[] {
  const m = new RegExp(`export type ${typeName} =([^;]+);`).exec(decisionTs);
  if (!m) throw new Error(`${typeName} not found in auth-decision.ts`);
  return [...m[1]!.matchAll(/"([a-z_]+)"/g)].map((x) => x[1]!);
}

describe("auth reasons", () => {
  it("covers every reject and drop reason the collector logs", () => {
    const rejects = unionMembers("RejectReason");
    const drops = unionMembers("DropReason");
    expect(rejects.length).toBeGreaterThan(5);
    expect([...rejectReasons].sort()).toEqual([...rejects].sort());
    expect([...dropReasons].sort()).toEqual([...drops].sort());
    for (const r of [...rejects, ...drops, ...acceptReasons]) expect(describeAuthReason(r).text).not.toContain("_");
  });

  it("words the common rejects for the caller, with a hint", () => {
    expect(describeAuthReason("wrong_password")).toEqual({ text: "Wrong password", hint: expect.stringContaining("router") });
    expect(describeAuthReason("unknown_user").text).toBe("User name not found");
    expect(describeAuthReason("simultaneous_use").text).toBe("Already connected elsewhere (simultaneous use)");
    expect(describeAuthReason("simultaneous_use").hint).toContain("Kick session");
    expect(describeAuthReason("suspended").hint).toContain("Restore");
    expect(describeAuthReason("something_new")).toEqual({ text: "something new", hint: null });
  });

  it("names both MACs on a MAC mismatch when known", () => {
    expect(describeAuthAttempt({ reason: "mac_mismatch", callingStationId: "aa:bb:cc:dd:ee:01" }, "aa:bb:cc:dd:ee:02").text).toBe(
      "Logged in from a different device (MAC aa:bb:cc:dd:ee:01, expected aa:bb:cc:dd:ee:02)",
    );
    expect(describeAuthAttempt({ reason: "mac_mismatch", callingStationId: null }, null).text).toBe("Logged in from a different device (no MAC sent)");
    expect(describeAuthAttempt({ reason: "wrong_password", callingStationId: "aa:bb:cc:dd:ee:01" }, "x").text).toBe("Wrong password");
  });

  it("offers every reason once as a filter option", () => {
    const opts = reasonOptions();
    expect(new Set(opts.map((o) => o.reason)).size).toBe(opts.length);
    expect(opts.find((o) => o.reason === "bad_message_authenticator")?.result).toBe("drop");
  });
});
