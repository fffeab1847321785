import { join } from "node:path";
import { DEMO_SUBSCRIBER } from "@isp/db/seed";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

// This month's invoices as the billing run counts them (its period is the Karachi month).
async function invoicesThisMonth(): Promise<number> {
  const { rows } = await db().query<{ n: number }>(
    "SELECT count(*)::int AS n FROM invoices WHERE period_start = date_trunc('month', now() AT TIME ZONE 'Asia/Karachi')::date",
  );
  return rows[0]!.n;
}

test("a manager runs billing, watches it complete live, and sees the invoice on the subscriber", async ({ page }) => {
  // Another run may already have billed this month (a kept database): the run is idempotent
  // per period, so the row then counts only what is new.
  const before = await invoicesThisMonth();

  await login(page, "manager");
  await page.goto("/billing");
  await expect(page.getByTestId("billing-runs")).toBeVisible();
  // Subscribed to the progress room before asking, so no event is missed.
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "live");

  await page.getByTestId("run-billing").click();
  await expect(page.getByTestId("billing-request")).toContainText(/requested/);

  const progress = page.getByTestId("progress-billing");
  await expect(progress).toHaveAttribute("data-status", "completed", { timeout: 60_000 });
  await expect(progress).toContainText(/100% \((\d+)\/\1\) completed/);
  const runId = await progress.getAttribute("data-run-id");
  expect(runId).toBeTruthy();

  const after = await invoicesThisMonth();
  expect(after).toBeGreaterThan(0);
  const row = page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`);
  await expect(row).toHaveAttribute("data-status", "completed");
  await expect(row.getByTestId("run-created")).toHaveText(String(after - before));
  await expect.poll(async () => Number(await row.getByTestId("run-processed").textContent())).toBeGreaterThan(0);
  await page.screenshot({ path: join(artifactsDir, "billing-runs.png"), fullPage: true });

  await page.goto("/subscribers");
  await page.getByTestId("subscriber-search").fill(DEMO_SUBSCRIBER.accountNo);
  const hit = page.locator(`[data-testid="search-row"][data-account="${DEMO_SUBSCRIBER.accountNo}"]`);
  await expect(hit).toBeVisible();
  await hit.getByRole("link", { name: DEMO_SUBSCRIBER.accountNo }).click();
  await expect(page.getByTestId("profile-account")).toHaveText(DEMO_SUBSCRIBER.accountNo);

  const panel = page.getByTestId("billing-panel");
  const { rows: month } = await db().query<{ start: string }>(
    "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'Asia/Karachi'), 'YYYY-MM-DD') AS start",
  );
  const invoice = panel.locator(`[data-testid="invoice-row"][data-kind="invoice"][data-period-start="${month[0]!.start}"]`);
  await expect(invoice).toHaveCount(1);
  const total = Number(await invoice.getAttribute("data-total-paisa"));
  expect(total).toBeGreaterThan(0);
  // Nothing else is booked on the demo account: what it owes is this invoice.
  await expect(panel.getByTestId("billing-balance")).toHaveAttribute("data-paisa", String(total));
  await page.screenshot({ path: join(artifactsDir, "subscriber-billing.png"), fullPage: true });
});

test("support cannot run billing: the page turns them away and the API refuses", async ({ page }) => {
  await login(page, "support");
  await page.goto("/billing");
  await expect(page).toHaveURL(/\/subscribers/);
  await expect(page.getByTestId("billing-runs")).toHaveCount(0);

  const res = await page.request.post("/api/trpc/billing.requestRun", { data: { kind: "billing" } });
  expect(res.status()).toBe(403);
  const { rows } = await db().query<{ n: number }>(
    "SELECT (SELECT count(*) FROM billing_runs WHERE requested_by = 'support')::int + (SELECT count(*) FROM audit_log WHERE actor = 'support' AND action LIKE 'billing.%')::int AS n",
  );
  expect(rows[0]!.n).toBe(0);
});

test("a dealer reads their own wallet statement", async ({ page }) => {
  await login(page, "dealer");
  await page.goto("/dealer/statement");
  const statement = page.getByTestId("dealer-statement");
  await expect(statement).toBeVisible();
  // Their own wallet only: no dealer picker.
  await expect(page.getByTestId("statement-dealer")).toHaveCount(0);
  await expect(page.getByTestId("statement-closing")).toHaveAttribute("data-paisa", /^-?\d+$/);
  await expect(page.getByTestId("statement-movements")).toBeVisible();
});
