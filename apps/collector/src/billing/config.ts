// Billing configuration the runs share: the tax table, where each city's service is
// taxed, the dunning ladder per plan and how enforcement actions map to outbox kinds.
import { type DunningConfig, type EnforcementKind, defaultDunningConfig } from "@isp/billing/dunning";
import type { LateFeeRule } from "@isp/billing/late-fee";
import { type TaxRule, pakistanInternetTaxRulesExample } from "@isp/billing/tax";
import { enforcementOutboxKinds } from "@isp/billing/account";

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
  /**
   * Late fee per plan, charged by the dunning run (at most once per invoice); null = none.
   * Default: none (a fee is a commercial decision the operator configures).
   */
  lateFeeFor(planId: number): LateFeeRule | null;
  /** Series prefix of late-fee documents (numbered gaplessly like invoices): FEE-2026. */
  lateFeeSeriesPrefix: string;
  /**
   * Series prefix of credit notes from plan changes and terminations (CN-2026); adjustment
   * invoices (upgrades) are numbered in the invoice series (`seriesPrefix`).
   */
  creditNoteSeriesPrefix: string;
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
  lateFeeFor: () => null,
  lateFeeSeriesPrefix: "FEE",
  creditNoteSeriesPrefix: "CN",
};

/**
 * enforcement_outbox kinds per dunning enforcement action: the one table in
 * @isp/billing/account (the web app's payments use it too). flag_high_risk has no outbox
 * kind: it is recorded in dunning_actions only.
 */
export const outboxKindOf: Readonly<Record<EnforcementKind, string | null>> = enforcementOutboxKinds;
