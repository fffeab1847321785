import { describe, expect, it } from "vitest";
import { decideAuth, normaliseMac, type DecisionContext } from "./auth-decision";
import type { PlanInfo, SubscriberInfo } from "./caches";

const plan = (over: Partial<PlanInfo> = {}): PlanInfo => ({
  id: 1,
  name: "10M",
  downloadKbps: 10240,
  uploadKbps: 2048,
  burst: null,
  fup: null,
  suspendedPolicy: null,
  walledGarden: { addressList: null, downloadKbps: null, uploadKbps: null },
  idleTimeoutS: null,
  framedPool: null,
  ...over,
});
const sub = (over: Partial<SubscriberInfo> = {}): SubscriberInfo => ({
  id: 7,
  accountNo: "ACC-7",
  name: "Ahmed",
  username: "ahmed",
  passwordEnc: null,
  passwordPlain: "secret",
  status: "active",
  staticIp: null,
  dealerId: null,
  boundMac: null,
  macLearn: false,
  simultaneousUse: 1,
  expiresAt: null,
  plan: plan(),
  ...over,
});
const now = new Date("2026-11-24T12:00:00Z");
const ctx = (over: Partial<DecisionContext> = {}): DecisionContext => ({
  now,
  mac: null,
  monthBytes: 0n,
  acctInterimIntervalS: 60,
  sessionTimeoutS: null,
  suspendedPolicyDefault: "reject",
  walledGarden: { addressList: "walled-garden", downloadKbps: 256, uploadKbps: 128 },
  ...over,
});

describe("decideAuth rejects with a precise reason", () => {
  it.each([
    ["unknown user", null, "ok", {}, "unknown_user"],
    ["wrong password", sub(), "wrong", {}, "wrong_password"],
    ["no credential attribute", sub(), "none", {}, "no_credentials"],
    ["password not decryptable", sub(), "unavailable", {}, "password_unavailable"],
    ["suspended, global policy reject", sub({ status: "suspended" }), "ok", {}, "suspended"],
    ["terminated", sub({ status: "terminated" }), "ok", {}, "terminated"],
    ["terminated even with walled garden default", sub({ status: "terminated" }), "ok", { suspendedPolicyDefault: "walled_garden" }, "terminated"],
    ["pending", sub({ status: "pending" }), "ok", {}, "pending"],
    ["suspended + wrong password says only wrong password", sub({ status: "suspended" }), "wrong", {}, "wrong_password"],
    ["prepaid expired", sub({ expiresAt: new Date(now.getTime() - 1000) }), "ok", {}, "expired"],
    ["bound MAC, other device", sub({ boundMac: "aa:bb:cc:dd:ee:ff" }), "ok", { mac: "aa:bb:cc:dd:ee:00" }, "mac_mismatch"],
    ["bound MAC, no Calling-Station-Id", sub({ boundMac: "aa:bb:cc:dd:ee:ff" }), "ok", {}, "mac_mismatch"],
    ["plan says reject although default is walled garden", sub({ status: "suspended", plan: plan({ suspendedPolicy: "reject" }) }), "ok", { suspendedPolicyDefault: "walled_garden" }, "suspended"],
  ] as const)("%s -> %s", (_label, s, cred, over, reason) => {
    const d = decideAuth(s, cred, ctx(over));
    expect(d.accept).toBe(false);
    if (!d.accept) {
      expect(d.reason).toBe(reason);
      expect(d.message.length).toBeGreaterThan(0);
    }
  });
});

describe("decideAuth grants", () => {
  it("active: the plan's rate with burst, static IP, idle timeout and router pool", () => {
    const burst = { downloadKbps: 20480, uploadKbps: 4096, thresholdDownloadKbps: 8192, thresholdUploadKbps: 1536, timeSeconds: 16 };
    const d = decideAuth(sub({ staticIp: "10.50.0.9", plan: plan({ burst, idleTimeoutS: 900, framedPool: "pppoe-pool" }) }), "ok", ctx());
    expect(d).toMatchObject({
      accept: true,
      learnMac: null,
      grant: { kind: "service", rate: { downloadKbps: 10240, uploadKbps: 2048, burst }, staticIp: "10.50.0.9", idleTimeoutS: 900, framedPool: "pppoe-pool", addressList: null, sessionTimeoutS: null },
    });
  });

  it("over the fair-usage quota: the throttled rate, no burst; under it: the plan", () => {
    const fup = { quotaBytes: 100_000_000_000n, downloadKbps: 1024, uploadKbps: 512 };
    const burst = { downloadKbps: 20480, uploadKbps: 4096, thresholdDownloadKbps: 8192, thresholdUploadKbps: 1536, timeSeconds: 16 };
    const s = sub({ plan: plan({ fup, burst }) });
    const over = decideAuth(s, "ok", ctx({ monthBytes: 100_000_000_000n }));
    expect(over).toMatchObject({ accept: true, grant: { kind: "fup", rate: { downloadKbps: 1024, uploadKbps: 512 } } });
    if (over.accept) expect(over.grant.rate.burst).toBeUndefined();
    expect(decideAuth(s, "ok", ctx({ monthBytes: 99_999_999_999n }))).toMatchObject({ accept: true, grant: { kind: "service", rate: { downloadKbps: 10240 } } });
  });

  it("suspended with walled garden (global default, or the plan's own list and rate)", () => {
    const d = decideAuth(sub({ status: "suspended" }), "ok", ctx({ suspendedPolicyDefault: "walled_garden" }));
    expect(d).toMatchObject({ accept: true, grant: { kind: "walled_garden", addressList: "walled-garden", rate: { downloadKbps: 256, uploadKbps: 128 }, sessionTimeoutS: 3600 } });
    const own = plan({ suspendedPolicy: "walled_garden", walledGarden: { addressList: "unpaid", downloadKbps: 512, uploadKbps: 512 } });
    expect(decideAuth(sub({ status: "suspended", plan: own }), "ok", ctx())).toMatchObject({
      accept: true,
      grant: { kind: "walled_garden", addressList: "unpaid", rate: { downloadKbps: 512, uploadKbps: 512 } },
    });
  });

  it("prepaid: Session-Timeout ends the session at expiry, capped by the global timeout", () => {
    const s = sub({ expiresAt: new Date(now.getTime() + 90_500) });
    expect(decideAuth(s, "ok", ctx())).toMatchObject({ accept: true, grant: { sessionTimeoutS: 91 } });
    expect(decideAuth(s, "ok", ctx({ sessionTimeoutS: 30 }))).toMatchObject({ accept: true, grant: { sessionTimeoutS: 30 } });
  });

  it("MAC binding: the bound device passes; learning binds the first device seen", () => {
    expect(decideAuth(sub({ boundMac: "aa:bb:cc:dd:ee:ff" }), "ok", ctx({ mac: "aa:bb:cc:dd:ee:ff" }))).toMatchObject({ accept: true, learnMac: null });
    expect(decideAuth(sub({ macLearn: true }), "ok", ctx({ mac: "aa:bb:cc:dd:ee:ff" }))).toMatchObject({ accept: true, learnMac: "aa:bb:cc:dd:ee:ff" });
    expect(decideAuth(sub({ macLearn: true }), "ok", ctx())).toMatchObject({ accept: true, learnMac: null });
  });
});

describe("normaliseMac", () => {
  it.each([
    ["AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"],
    ["aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"],
    ["AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"],
    ["aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"],
    ["not a mac", null],
    ["aa:bb:cc:dd:ee", null],
    ["", null],
    ["0123456789ab-extra", null],
  ])("%s -> %s", (input, out) => expect(normaliseMac(input)).toBe(out));
});
