// The pure billing core alone, no database: how fast invoices (with taxes and a ledger
// transaction) and dunning evaluations are computed for 100,000 subscribers. This is the
// floor under the real billing run (`billing`, with PostgreSQL), not a substitute for it.
import { type BillingPlan, periodContaining } from "@isp/billing/cycles";
import { defaultDunningConfig, evaluateDunning } from "@isp/billing/dunning";
import { buildInvoice, invoiceLedgerTransaction, subscriptionCharge } from "@isp/billing/invoice";
import { pakistanInternetTaxRulesExample } from "@isp/billing/tax";
import type { BenchContext, Figure } from "./lib";

const subscribers = 100_000;
const regions = ["sindh", "punjab", "kp", "ict", "gilgit"];

export default async function billingPure(ctx: BenchContext): Promise<Figure[]> {
  const plan: BillingPlan = { kind: "monthly_fixed_day", day: 1 };
  const period = periodContaining(plan, "2024-01-01", "2024-02-10");

  let checksum = 0;
  const invoiceStart = performance.now();
  for (let i = 0; i < subscribers; i++) {
    const doc = buildInvoice({
      invoiceId: `INV-${i}`,
      subscriberId: `S${i}`,
      region: regions[i % regions.length] as string,
      issuedOn: "2024-02-01",
      dueOn: "2024-02-10",
      charges: [subscriptionCharge({ name: "Home", pricePaisa: 100000 + (i % 97) * 500 }, period)],
      taxRules: pakistanInternetTaxRulesExample,
    });
    const tx = invoiceLedgerTransaction(doc);
    checksum += tx ? doc.totals.totalPaisa : 0;
  }
  const invoiceS = (performance.now() - invoiceStart) / 1000;
  ctx.log(`invoices: ${subscribers} in ${invoiceS.toFixed(2)} s (checksum ${checksum})`);

  const now = new Date("2024-02-22T07:00:00Z");
  let actions = 0;
  const dunningStart = performance.now();
  for (let i = 0; i < subscribers; i++) {
    const r = evaluateDunning(
      defaultDunningConfig,
      { subscriberId: `S${i}`, balancePaisa: i % 3 === 0 ? 0 : 120000, earliestUnpaid: i % 3 === 0 ? null : { invoiceId: `INV-${i}`, dueOn: "2024-02-10" }, recorded: null },
      now,
    );
    actions += r.actions.length;
  }
  const dunningS = (performance.now() - dunningStart) / 1000;
  ctx.log(`dunning: ${subscribers} evaluations in ${dunningS.toFixed(2)} s, ${actions} actions`);

  return [
    { key: "billing_pure_invoices_100k_s", value: Number(invoiceS.toFixed(3)), unit: "s" },
    { key: "billing_pure_invoices_per_s", value: Math.round(subscribers / invoiceS), unit: "/s" },
    { key: "billing_pure_dunning_100k_s", value: Number(dunningS.toFixed(3)), unit: "s" },
    { key: "billing_pure_dunning_per_s", value: Math.round(subscribers / dunningS), unit: "/s" },
  ];
}
