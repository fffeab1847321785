import { describe, expect, it } from "vitest";
import { decideAuth } from "./auth-decision";
import type { SubscriberInfo } from "./caches";

const sub = (over: Partial<SubscriberInfo> = {}): SubscriberInfo => ({
  id: 7,
  accountNo: "ACC-7",
  name: "Ahmed",
  username: "ahmed",
  password: "secret",
  status: "active",
  staticIp: null,
  dealerId: null,
  plan: { id: 1, name: "10M", downloadKbps: 10240, uploadKbps: 2048 },
  ...over,
});
const opts = { acctInterimIntervalS: 60, rateLimit: (p: SubscriberInfo["plan"]) => `${p.uploadKbps}k/${p.downloadKbps}k` };
const pw = (clear: string) => (candidate: string) => candidate === clear;

describe("decideAuth", () => {
  it.each([
    ["unknown user", null, pw("x"), "unknown_user"],
    ["wrong password", sub(), pw("nope"), "bad_password"],
    ["no credential attribute", sub(), null, "no_credentials"],
    ["suspended", sub({ status: "suspended" }), pw("secret"), "suspended"],
    ["terminated", sub({ status: "terminated" }), pw("secret"), "terminated"],
    ["pending", sub({ status: "pending" }), pw("secret"), "pending"],
    ["suspended + wrong password says only wrong password", sub({ status: "suspended" }), pw("bad"), "bad_password"],
  ] as const)("%s -> reject %s", (_label, s, check, reason) => {
    const d = decideAuth(s, check, opts);
    expect(d.accept).toBe(false);
    if (!d.accept) {
      expect(d.reason).toBe(reason);
      expect(d.message.length).toBeGreaterThan(0);
    }
  });

  it("active with the right password -> accept with the plan's rate limit and static IP", () => {
    const d = decideAuth(sub({ staticIp: "10.50.0.9" }), pw("secret"), opts);
    expect(d).toMatchObject({ accept: true, rateLimit: "2048k/10240k", framedIp: "10.50.0.9", acctInterimIntervalS: 60 });
  });
});
