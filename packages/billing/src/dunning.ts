// Dunning as a pure state machine, after Kill Bill's overdue model: a per-plan list of steps,
// each with a threshold in days past the due date of the earliest unpaid invoice, a state
// name and actions (as data). `evaluateDunning` takes the previously recorded state and
// returns the new one plus the actions to emit; feeding the returned record back in emits
// nothing new, and every action carries a deterministic key for the outbox's unique index.

import { businessDate, type CalendarDate, compareDates, daysBetween, formatDate, toDate } from "./cycles";

export type EnforcementKind = "throttle" | "walled_garden" | "suspend" | "restore" | "terminate" | "flag_high_risk";

export type DunningAction =
  | { readonly type: "notification"; readonly kind: string }
  | { readonly type: "enforcement"; readonly kind: EnforcementKind };

export interface DunningStep {
  /** Stable id, part of the idempotency key; never reuse one for a different step. */
  readonly id: string;
  /** Days relative to the due date: -3 is three days before, 0 the due date, 10 ten days after. */
  readonly offsetDays: number;
  /** The state the account is in once this step has fired, e.g. "suspended". */
  readonly state: string;
  readonly actions: readonly DunningAction[];
}

export interface DunningConfig {
  readonly id: string;
  /** Strictly increasing offsetDays. */
  readonly steps: readonly DunningStep[];
  /** Emitted once when an account with restricted access is cleared. */
  readonly restoreActions: readonly DunningAction[];
  /** Outstanding at or below this counts as cleared (ignore a few paisa of rounding); default 0. */
  readonly clearedAtOrBelowPaisa?: number;
}

/** What the network should be doing for this subscriber; derived from the enforcement actions fired. */
export type AccessLevel = "full" | "throttled" | "walled_garden" | "suspended" | "terminated";

export interface DunningRecord {
  /** The invoice whose due date drives the current episode; null when nothing is overdue. */
  readonly invoiceId: string | null;
  /** Incremented each time an episode starts, so a reopened invoice (reversed payment) gets fresh keys. */
  readonly generation: number;
  readonly state: string;
  readonly access: AccessLevel;
  readonly firedSteps: readonly string[];
}

export interface DunningAccount {
  readonly subscriberId: string;
  /** Everything owed minus every credit (the receivable balance). */
  readonly balancePaisa: number;
  /** Oldest unpaid invoice after allocation; null when nothing is unpaid. */
  readonly earliestUnpaid: { readonly invoiceId: string; readonly dueOn: CalendarDate | string } | null;
  /** A dated hold: no escalation while today is before `until`. */
  readonly promiseToPay?: { readonly until: CalendarDate | string } | null;
  readonly recorded: DunningRecord | null;
}

export interface EmittedAction {
  /** `${subscriberId}:${invoiceId}.${generation}:${stepId}:${kind}`, unique per action ever emitted. */
  readonly key: string;
  readonly subscriberId: string;
  readonly invoiceId: string;
  readonly step: string;
  readonly action: DunningAction;
}

export interface DunningResult {
  readonly state: string;
  readonly access: AccessLevel;
  readonly daysPastDue: number | null;
  readonly heldUntil: string | null;
  readonly actions: readonly EmittedAction[];
  /** Persist this (with the actions, in one transaction) and pass it back next time. */
  readonly record: DunningRecord;
}

export class DunningError extends Error {
  constructor(
    readonly code: "invalid_config" | "invalid_account",
    message: string,
  ) {
    super(message);
    this.name = "DunningError";
  }
}

export const dunningStepsMax = 32;
export const currentState = "current";

export const initialDunningRecord: DunningRecord = { invoiceId: null, generation: 0, state: currentState, access: "full", firedSteps: [] };

const notify = (kind: string): DunningAction => ({ type: "notification", kind });
const enforce = (kind: EnforcementKind): DunningAction => ({ type: "enforcement", kind });

/** The schedule of the issue: remind at -3, 0 and +3; throttle +5; walled garden +7; suspend +10; high-risk +30; terminate +60. */
export const defaultDunningConfig: DunningConfig = {
  id: "default",
  steps: [
    { id: "remind-before-due", offsetDays: -3, state: currentState, actions: [notify("payment_reminder")] },
    { id: "remind-due", offsetDays: 0, state: "due", actions: [notify("payment_due_today")] },
    { id: "remind-overdue", offsetDays: 3, state: "overdue", actions: [notify("payment_overdue")] },
    { id: "throttle", offsetDays: 5, state: "throttled", actions: [enforce("throttle"), notify("service_throttled")] },
    { id: "walled-garden", offsetDays: 7, state: "walled_garden", actions: [enforce("walled_garden"), notify("service_walled_garden")] },
    { id: "suspend", offsetDays: 10, state: "suspended", actions: [enforce("suspend"), notify("service_suspended")] },
    { id: "high-risk", offsetDays: 30, state: "high_risk", actions: [enforce("flag_high_risk")] },
    { id: "terminate", offsetDays: 60, state: "terminated", actions: [enforce("terminate"), notify("service_terminated")] },
  ],
  restoreActions: [enforce("restore"), notify("service_restored")],
};

const accessRank: Record<AccessLevel, number> = { full: 0, throttled: 1, walled_garden: 2, suspended: 3, terminated: 4 };
const accessAfter: Partial<Record<EnforcementKind, AccessLevel>> = {
  throttle: "throttled",
  walled_garden: "walled_garden",
  suspend: "suspended",
  terminate: "terminated",
  restore: "full",
};

export function assertDunningConfig(config: DunningConfig): void {
  if (config.steps.length > dunningStepsMax) throw new DunningError("invalid_config", `${config.id}: more than ${dunningStepsMax} steps`);
  const ids = new Set<string>();
  let previous = -Infinity;
  for (const step of config.steps) {
    if (!step.id || step.id === "restore" || step.id.includes(":")) throw new DunningError("invalid_config", `${config.id}: step id ${JSON.stringify(step.id)} is empty, reserved or contains ':'`);
    if (ids.has(step.id)) throw new DunningError("invalid_config", `${config.id}: step id ${step.id} is used twice`);
    ids.add(step.id);
    if (!Number.isInteger(step.offsetDays) || step.offsetDays <= previous) {
      throw new DunningError("invalid_config", `${config.id}: step ${step.id} offset ${step.offsetDays} must be an integer above the previous step's`);
    }
    previous = step.offsetDays;
    assertActions(config.id, step.id, step.actions);
  }
  assertActions(config.id, "restore", config.restoreActions);
}

const enforcementKinds = new Set<string>(["throttle", "walled_garden", "suspend", "restore", "terminate", "flag_high_risk"]);

function assertActions(configId: string, stepId: string, actions: readonly DunningAction[]): void {
  const kinds = new Set<string>();
  for (const action of actions) {
    const ok =
      (action.type === "notification" && /^[a-z0-9_]+$/.test(action.kind)) || (action.type === "enforcement" && enforcementKinds.has(action.kind));
    // The kind is the last part of the idempotency key, so it must be unique within the step.
    if (!ok || kinds.has(action.kind)) throw new DunningError("invalid_config", `${configId}: step ${stepId} has an invalid or repeated action ${JSON.stringify(action)}`);
    kinds.add(action.kind);
  }
}

/** Access after applying the enforcement actions of `actions` to `from`. */
function applyAccess(from: AccessLevel, actions: readonly DunningAction[]): AccessLevel {
  let access = from;
  for (const a of actions) if (a.type === "enforcement") access = accessAfter[a.kind] ?? access;
  return access;
}

/**
 * One evaluation for one subscriber at `now`. Rules, in order:
 * - terminated is terminal: nothing more is emitted (reactivation is an operator action);
 * - cleared (nothing unpaid, or balance at or below the threshold): if access was restricted,
 *   emit the restore actions once, and go back to the initial record;
 * - a new earliest unpaid invoice starts a new episode (generation + 1); if the new episode's
 *   target access is less restrictive than the current one, restore first;
 * - a promise to pay holds escalation while today < until;
 * - otherwise every step whose threshold has passed and has not fired is due. A run that
 *   missed days fires only the latest due step's actions (it supersedes the earlier ones),
 *   plus any flag_high_risk among the skipped steps and, when the latest step sets no access,
 *   the access action of the last skipped step that did; all due steps are recorded as fired.
 */
export function evaluateDunning(config: DunningConfig, account: DunningAccount, now: Date): DunningResult {
  assertDunningConfig(config);
  if (!Number.isSafeInteger(account.balancePaisa)) throw new DunningError("invalid_account", `${account.subscriberId}: balance must be integer paisa`);
  const today = businessDate(now);
  const recorded = account.recorded ?? initialDunningRecord;
  const actions: EmittedAction[] = [];
  const emit = (invoiceId: string, generation: number, step: string, list: readonly DunningAction[]) => {
    for (const action of list) actions.push({ key: `${account.subscriberId}:${invoiceId}.${generation}:${step}:${action.kind}`, subscriberId: account.subscriberId, invoiceId, step, action });
  };
  const result = (record: DunningRecord, daysPastDue: number | null, heldUntil: string | null): DunningResult => ({
    state: record.state,
    access: record.access,
    daysPastDue,
    heldUntil,
    actions,
    record,
  });

  if (recorded.access === "terminated") return result(recorded, null, null);

  const cleared = account.earliestUnpaid === null || account.balancePaisa <= (config.clearedAtOrBelowPaisa ?? 0);
  if (cleared) {
    if (recorded.access !== "full" && recorded.invoiceId !== null) emit(recorded.invoiceId, recorded.generation, "restore", config.restoreActions);
    return result({ ...initialDunningRecord, generation: recorded.generation }, null, null);
  }

  const unpaid = account.earliestUnpaid as NonNullable<DunningAccount["earliestUnpaid"]>;
  const daysPastDue = daysBetween(toDate(unpaid.dueOn), today);
  const reached = config.steps.filter((s) => s.offsetDays <= daysPastDue);

  let record = recorded;
  if (record.invoiceId !== unpaid.invoiceId) {
    const target = reached.reduce((acc, s) => applyAccess(acc, s.actions), "full" as AccessLevel);
    let access = record.access;
    if (accessRank[access] > accessRank[target] && record.invoiceId !== null) {
      emit(record.invoiceId, record.generation, "restore", config.restoreActions);
      access = "full";
    }
    record = { invoiceId: unpaid.invoiceId, generation: record.generation + 1, state: currentState, access, firedSteps: [] };
  }

  const promise = account.promiseToPay ? toDate(account.promiseToPay.until) : null;
  if (promise && compareDates(today, promise) < 0) return result(record, daysPastDue, formatDate(promise));

  const due = reached.filter((s) => !record.firedSteps.includes(s.id));
  const latest = due[due.length - 1];
  if (!latest) return result(record, daysPastDue, null);
  const skipped = due.slice(0, -1);
  const changesAccess = (a: DunningAction) => a.type === "enforcement" && accessAfter[a.kind] !== undefined;
  // When the latest step sets no access itself (e.g. high-risk only), the last skipped step
  // that did must still be carried out, or a catch-up would leave the network too open.
  const accessCarrier = latest.actions.some(changesAccess) ? undefined : skipped.filter((s) => s.actions.some(changesAccess)).pop();
  for (const step of skipped) {
    emit(
      unpaid.invoiceId,
      record.generation,
      step.id,
      step.actions.filter((a) => (a.type === "enforcement" && a.kind === "flag_high_risk") || (step === accessCarrier && changesAccess(a))),
    );
  }
  emit(unpaid.invoiceId, record.generation, latest.id, latest.actions);
  record = {
    ...record,
    state: latest.state,
    access: due.reduce((acc, s) => applyAccess(acc, s.actions), record.access),
    firedSteps: [...record.firedSteps, ...due.map((s) => s.id)],
  };
  return result(record, daysPastDue, null);
}
