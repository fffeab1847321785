import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

test("support changes a live subscriber's plan and the router confirms the new rate", async ({ page }) => {
  // An online, active subscriber and a plan it is not on (the database picks, the UI acts).
  const pick = await db().query<{ id: number; account_no: string; plan_id: number }>(
    `SELECT sub.id, sub.account_no, sub.plan_id FROM radius_sessions s JOIN subscribers sub ON sub.id = s.subscriber_id
      WHERE s.status = 'active' AND sub.status = 'active'
      ORDER BY s.started_at DESC LIMIT 1`,
  );
  const subject = pick.rows[0];
  expect(subject).toBeTruthy();
  const plan = (
    await db().query<{ id: number; name: string; download_kbps: number }>(
      "SELECT id, name, download_kbps FROM plans WHERE active AND id <> $1 ORDER BY download_kbps DESC LIMIT 1",
      [subject!.plan_id],
    )
  ).rows[0]!;

  await login(page, "support");
  await page.goto(`/subscribers/${subject!.id}`);
  await expect(page.getByTestId("profile-account")).toHaveText(subject!.account_no);
  await expect(page.getByTestId("session-card")).toHaveAttribute("data-online", "true");

  await page.getByTestId("plan-picker").selectOption(String(plan.id));
  await page.getByTestId("action-change_plan").click();
  const result = page.getByTestId("action-result");
  await expect(result).toHaveText(/^Router confirmed in \d+ ms$/, { timeout: 10_000 });
  await expect(page.getByTestId("action-path")).toHaveText("via coa");
  // Still online (a rate change, not a disconnect), now on the new plan's rate.
  await expect(page.getByTestId("session-card")).toHaveAttribute("data-online", "true");
  await expect(page.getByTestId("profile")).toContainText(plan.name);
  const row = page.getByTestId("action-row").first();
  await expect(row).toHaveAttribute("data-status", "acked");
  await expect(row).toContainText("change_plan");
  await expect(row).toContainText("via coa");
  await page.screenshot({ path: join(artifactsDir, "subscriber-plan-changed.png"), fullPage: true });

  // The router's answer is on the row, not just on the page.
  const action = await db().query<{ status: string; path: string; params: { downloadKbps: number } }>(
    "SELECT status::text, path::text, params FROM enforcement_outbox WHERE subscriber_id = $1 AND kind = 'change_plan' ORDER BY id DESC LIMIT 1",
    [subject!.id],
  );
  expect(action.rows[0]).toMatchObject({ status: "acked", path: "coa", params: { downloadKbps: plan.download_kbps } });
});

test("a manager sees the subscriber but no action buttons", async ({ page }) => {
  const anyone = (await db().query<{ id: number }>("SELECT id FROM subscribers ORDER BY id LIMIT 1")).rows[0]!;
  await login(page, "manager");
  await page.goto(`/subscribers/${anyone.id}`);
  await expect(page.getByTestId("profile")).toBeVisible();
  await expect(page.getByTestId("action-buttons")).toHaveCount(0);
});
