// From a subscriber's stored history to the allocation, the dunning evaluation and the
// writes both imply. The logic is pure and lives in @isp/billing/account (the web app's
// payments use it too); this binds it to the collector's billing configuration.
import { type AccountEvaluation, evaluateAccount as evaluate } from "@isp/billing/account";
import type { AccountHistory } from "@isp/db/billing-store";
import { type BillingConfig, outboxKindOf } from "./config";

export type { AccountEvaluation };

export function evaluateAccount(h: AccountHistory, cfg: BillingConfig, now: Date): AccountEvaluation {
  return evaluate(h, { dunningFor: cfg.dunningFor, outboxKindOf }, now);
}
