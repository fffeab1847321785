import { describe, expect, it } from "vitest";
import { addDays, formatDate, toDate } from "./cycles";
import {
  type DunningAccount,
  type DunningConfig,
  DunningError,
  type DunningRecord,
  defaultDunningConfig,
  type EmittedAction,
  evaluateDunning,
  initialDunningRecord,
} from "./dunning";

/** Noon in Karachi on a business date. */
const at = (date: string) => new Date(`${date}T07:00:00Z`);

const unpaid = (recorded: DunningRecord | null, over: Partial<DunningAccount> = {}): DunningAccount => ({
  subscriberId: "S1",
  balancePaisa: 201750,
  earliestUnpaid: { invoiceId: "INV-1", dueOn: "2024-02-29" },
  recorded,
  ...over,
});

const describeActions = (actions: readonly EmittedAction[]) => actions.map((a) => `${a.step}:${a.action.type === "enforcement" ? "!" : ""}${a.action.kind}`);

/** Runs the evaluator once a day (twice, to prove re-runs are silent) and returns what each day emitted. */
function daily(from: string, days: number, account: (record: DunningRecord | null, date: string) => DunningAccount, config: DunningConfig = defaultDunningConfig) {
  let record: DunningRecord | null = null;
  const emitted: Array<[string, string[]]> = [];
  const keys = new Set<string>();
  for (let i = 0; i < days; i++) {
    const date = formatDate(addDays(toDate(from), i));
    const r = evaluateDunning(config, account(record, date), at(date));
    if (r.actions.length > 0) emitted.push([date, describeActions(r.actions)]);
    for (const a of r.actions) {
      if (keys.has(a.key)) throw new Error(`key emitted twice: ${a.key}`);
      keys.add(a.key);
    }
    const rerun = evaluateDunning(config, account(r.record, date), at(date));
    if (rerun.actions.length > 0) throw new Error(`re-run on ${date} emitted ${a(rerun.actions)}`);
    expect(rerun.record).toEqual(r.record);
    record = r.record;
  }
  return { emitted, record, keys };
}
const a = (actions: readonly EmittedAction[]) => JSON.stringify(describeActions(actions));

describe("default schedule, run daily", () => {
  it("an invoice due on the leap day escalates on the configured days, each action once", () => {
    const { emitted, record, keys } = daily("2024-02-20", 80, (recorded) => unpaid(recorded));
    expect(emitted).toEqual([
      ["2024-02-26", ["remind-before-due:payment_reminder"]],
      ["2024-02-29", ["remind-due:payment_due_today"]],
      ["2024-03-03", ["remind-overdue:payment_overdue"]],
      ["2024-03-05", ["throttle:!throttle", "throttle:service_throttled"]],
      ["2024-03-07", ["walled-garden:!walled_garden", "walled-garden:service_walled_garden"]],
      ["2024-03-10", ["suspend:!suspend", "suspend:service_suspended"]],
      ["2024-03-30", ["high-risk:!flag_high_risk"]], // Feb 29 + 30 days
      ["2024-04-29", ["terminate:!terminate", "terminate:service_terminated"]], // Feb 29 + 60 days
    ]);
    expect(record).toMatchObject({ state: "terminated", access: "terminated", invoiceId: "INV-1", generation: 1 });
    expect(keys).toContain("S1:INV-1.1:suspend:suspend");
  });

  it.each([
    // instant (UTC), state, access: the Karachi date decides, not the server's
    ["2024-03-04T18:59:59Z", "overdue", "full"],
    ["2024-03-04T19:00:00Z", "throttled", "throttled"],
    ["2024-03-09T18:59:59Z", "walled_garden", "walled_garden"],
    ["2024-03-09T19:00:00Z", "suspended", "suspended"],
  ])("at %s the account is %s with %s access", (instant, state, access) => {
    const r = evaluateDunning(defaultDunningConfig, unpaid(null), new Date(instant));
    expect([r.state, r.access]).toEqual([state, access]);
  });

  it("a non-leap February: due 2023-02-28, suspend on 2023-03-10, terminate on 2023-04-29", () => {
    const { emitted } = daily("2023-02-25", 70, (recorded) => unpaid(recorded, { earliestUnpaid: { invoiceId: "INV-9", dueOn: "2023-02-28" } }));
    const onDays = Object.fromEntries(emitted.map(([d, acts]) => [acts[0]?.split(":")[0], d]));
    expect(onDays).toMatchObject({ "remind-before-due": "2023-02-25", suspend: "2023-03-10", "high-risk": "2023-03-30", terminate: "2023-04-29" });
  });
});

describe("restore and new episodes", () => {
  it("clearing the balance restores at once, exactly once", () => {
    let r = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-03-12"));
    expect(r.access).toBe("suspended");
    r = evaluateDunning(defaultDunningConfig, unpaid(r.record, { balancePaisa: 0, earliestUnpaid: null }), at("2024-03-12"));
    expect(r.actions.map((x) => x.key)).toEqual(["S1:INV-1.1:restore:restore", "S1:INV-1.1:restore:service_restored"]);
    expect(r.record).toEqual({ ...initialDunningRecord, generation: 1 });
    expect([r.state, r.access]).toEqual(["current", "full"]);
    const again = evaluateDunning(defaultDunningConfig, unpaid(r.record, { balancePaisa: 0, earliestUnpaid: null }), at("2024-03-13"));
    expect(again.actions).toEqual([]);
  });

  it("paying before any enforcement restores nothing; an advance balance counts as cleared", () => {
    const r = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-03-03"));
    expect(r.access).toBe("full");
    expect(evaluateDunning(defaultDunningConfig, unpaid(r.record, { balancePaisa: -5000, earliestUnpaid: null }), at("2024-03-04")).actions).toEqual([]);
  });

  it("balances at or below the configured threshold count as cleared", () => {
    const config = { ...defaultDunningConfig, clearedAtOrBelowPaisa: 100 };
    const r = evaluateDunning(config, unpaid(null), at("2024-03-12"));
    expect(evaluateDunning(config, unpaid(r.record, { balancePaisa: 100 }), at("2024-03-12")).access).toBe("full");
    expect(evaluateDunning(config, unpaid(r.record, { balancePaisa: 101 }), at("2024-03-12")).access).toBe("suspended");
  });

  it("paying the old invoice while a newer one is not yet overdue restores, then starts a new episode", () => {
    const suspended = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-03-12"));
    const r = evaluateDunning(defaultDunningConfig, unpaid(suspended.record, { earliestUnpaid: { invoiceId: "INV-2", dueOn: "2024-03-31" } }), at("2024-03-12"));
    expect(describeActions(r.actions)).toEqual(["restore:!restore", "restore:service_restored"]);
    expect(r.record).toEqual({ invoiceId: "INV-2", generation: 2, state: "current", access: "full", firedSteps: [] });
    // The newer invoice then runs its own schedule with its own keys.
    const later = evaluateDunning(defaultDunningConfig, unpaid(r.record, { earliestUnpaid: { invoiceId: "INV-2", dueOn: "2024-03-31" } }), at("2024-04-05"));
    expect(later.actions.map((x) => x.key)).toEqual(["S1:INV-2.2:throttle:throttle", "S1:INV-2.2:throttle:service_throttled"]);
  });

  it("a reversed payment reopens the same invoice with fresh keys (new generation)", () => {
    const first = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-03-12"));
    const paid = evaluateDunning(defaultDunningConfig, unpaid(first.record, { balancePaisa: 0, earliestUnpaid: null }), at("2024-03-13"));
    const reopened = evaluateDunning(defaultDunningConfig, unpaid(paid.record), at("2024-03-14"));
    expect(reopened.actions.map((x) => x.key)).toEqual(["S1:INV-1.2:suspend:suspend", "S1:INV-1.2:suspend:service_suspended"]);
    expect(first.actions.map((x) => x.key)).toEqual(["S1:INV-1.1:suspend:suspend", "S1:INV-1.1:suspend:service_suspended"]);
  });

  it("terminated is terminal", () => {
    const t = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-05-01"));
    expect(t.access).toBe("terminated");
    const paid = evaluateDunning(defaultDunningConfig, unpaid(t.record, { balancePaisa: 0, earliestUnpaid: null }), at("2024-05-02"));
    expect(paid.actions).toEqual([]);
    expect(paid.access).toBe("terminated");
  });
});

describe("catch-up after missed runs", () => {
  it.each([
    // first run on, emitted, access
    ["2024-03-12", ["suspend:!suspend", "suspend:service_suspended"], "suspended"],
    // The latest step only flags; the suspension it skipped must still be carried out.
    ["2024-04-05", ["suspend:!suspend", "high-risk:!flag_high_risk"], "suspended"],
    ["2024-05-01", ["high-risk:!flag_high_risk", "terminate:!terminate", "terminate:service_terminated"], "terminated"],
    ["2024-02-27", ["remind-before-due:payment_reminder"], "full"],
  ])("first run on %s emits %j", (date, emitted, access) => {
    const r = evaluateDunning(defaultDunningConfig, unpaid(null), at(date));
    expect(describeActions(r.actions)).toEqual(emitted);
    expect(r.access).toBe(access);
    expect(evaluateDunning(defaultDunningConfig, unpaid(r.record), at(date)).actions).toEqual([]);
  });
});

describe("promise to pay", () => {
  it("holds escalation until its date, then catches up", () => {
    const promise = { until: "2024-03-09" };
    const { emitted } = daily("2024-03-01", 12, (recorded, date) => unpaid(recorded, { promiseToPay: date >= "2024-03-04" ? promise : null }));
    expect(emitted).toEqual([
      ["2024-03-01", ["remind-due:payment_due_today"]], // first run, one day late: catches up with the due-date step
      ["2024-03-03", ["remind-overdue:payment_overdue"]],
      // Throttle (Mar 5) and walled garden (Mar 7) are held; on Mar 9 the walled garden step supersedes the throttle.
      ["2024-03-09", ["walled-garden:!walled_garden", "walled-garden:service_walled_garden"]],
      ["2024-03-10", ["suspend:!suspend", "suspend:service_suspended"]],
    ]);
    const held = evaluateDunning(defaultDunningConfig, unpaid(null, { promiseToPay: promise }), at("2024-03-08"));
    expect([held.heldUntil, held.actions.length]).toEqual(["2024-03-09", 0]);
  });

  it("does not hold a restore: paying during a hold restores at once", () => {
    const suspended = evaluateDunning(defaultDunningConfig, unpaid(null), at("2024-03-12"));
    const r = evaluateDunning(defaultDunningConfig, unpaid(suspended.record, { balancePaisa: 0, earliestUnpaid: null, promiseToPay: { until: "2024-03-20" } }), at("2024-03-13"));
    expect(describeActions(r.actions)).toEqual(["restore:!restore", "restore:service_restored"]);
  });
});

describe("per-plan configuration", () => {
  const business: DunningConfig = {
    id: "business",
    steps: [
      { id: "remind", offsetDays: 1, state: "overdue", actions: [{ type: "notification", kind: "account_manager_call" }] },
      { id: "suspend", offsetDays: 15, state: "suspended", actions: [{ type: "enforcement", kind: "suspend" }] },
    ],
    restoreActions: [{ type: "enforcement", kind: "restore" }],
  };

  it("a business plan only suspends after 15 days", () => {
    const { emitted } = daily("2024-02-25", 30, (recorded) => unpaid(recorded), business);
    expect(emitted).toEqual([
      ["2024-03-01", ["remind:account_manager_call"]],
      ["2024-03-15", ["suspend:!suspend"]],
    ]);
  });

  it.each([
    ["duplicate id", [business.steps[0], business.steps[0]]],
    ["offsets not increasing", [business.steps[1], business.steps[0]]],
    ["reserved id", [{ ...business.steps[0], id: "restore" }]],
    ["colon in id", [{ ...business.steps[0], id: "a:b" }]],
    ["fractional offset", [{ ...business.steps[0], offsetDays: 1.5 }]],
    ["unknown enforcement", [{ ...business.steps[0], actions: [{ type: "enforcement", kind: "disconnect" }] }]],
    ["repeated action kind", [{ ...business.steps[0], actions: [{ type: "notification", kind: "sms" }, { type: "notification", kind: "sms" }] }]],
    ["notification kind with a colon", [{ ...business.steps[0], actions: [{ type: "notification", kind: "a:b" }] }]],
  ])("rejects a config with %s", (_, steps) => {
    expect(() => evaluateDunning({ ...business, steps: steps as DunningConfig["steps"] }, unpaid(null), at("2024-03-01"))).toThrow(DunningError);
  });

  it("rejects a fractional balance", () => {
    expect(() => evaluateDunning(business, unpaid(null, { balancePaisa: 1.5 }), at("2024-03-01"))).toThrow(expect.objectContaining({ code: "invalid_account" }));
  });
});
