// Billing configuration the runs share: the tax table, where each city's service is
// taxed, the dunning ladder per plan and how enforcement actions map to outbox kinds.
import { type DunningConfig, type EnforcementKind, defaultDunningConfig } from "@isp/billing/dunning";
import { type TaxRule, pakistanInternetTaxRulesExample } from "@isp/billing/tax";

export interface BillingConfig {
  taxRules: readonly TaxRule[];
  /** City (as stored on the subscriber) to tax region; unknown cities get only region-less rules. */
  regionOfCity: Readonly<Record<string, string>>;
  /** Days from issue to due date. */
  dueDays: number;
  /** Invoice series prefix; the issue year is appended (INV-2026). */
  seriesPrefix: string;
  /** Subscribers per database transaction. */
  chunkSize: number;
  dunningFor(planId: number): DunningConfig;
}

export const defaultRegionOfCity: Readonly<Record<string, string>> = {
  Karachi: "sindh",
  Hyderabad: "sindh",
  Lahore: "punjab",
  Faisalabad: "punjab",
  Rawalpindi: "punjab",
  Multan: "punjab",
  Islamabad: "ict",
  Peshawar: "kp",
};

export const defaultBillingConfig: BillingConfig = {
  taxRules: pakistanInternetTaxRulesExample,
  regionOfCity: defaultRegionOfCity,
  dueDays: 10,
  seriesPrefix: "INV",
  chunkSize: 1000,
  dunningFor: () => defaultDunningConfig,
};

/**
 * enforcement_outbox kinds (migration 20261124190000_enforcement_paths). flag_high_risk
 * has no network effect and no outbox kind: it is recorded in dunning_actions only.
 */
export const outboxKindOf: Readonly<Record<EnforcementKind, string | null>> = {
  throttle: "throttle",
  walled_garden: "walled_garden_on",
  suspend: "suspend",
  restore: "restore",
  terminate: "terminate",
  flag_high_risk: null,
};
