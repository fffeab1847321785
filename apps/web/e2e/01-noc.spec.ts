import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, login, onlineCount } from "./helpers";

test.afterAll(closeDb);

test("NOC wall goes live and counts sessions as the simulator dials in", async ({ page }) => {
  await login(page, "noc");
  await expect(page).toHaveURL(/\/noc$/);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "live");

  const first = await onlineCount(page);
  // The collector started moments ago: its simulator is still dialling, and the wall must
  // follow without a reload.
  await expect.poll(() => onlineCount(page), { timeout: 45_000, intervals: [500] }).toBeGreaterThan(first);
  const second = await onlineCount(page);
  expect(second).toBeGreaterThan(0);

  const rows = page.getByTestId("router-row");
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThanOrEqual(1);
  // Bandwidth arrives with the first interim updates.
  await expect
    .poll(
      async () => {
        const values = await page.getByTestId("router-out").allTextContents();
        return Math.max(0, ...values.map(Number));
      },
      { timeout: 45_000, intervals: [1000] },
    )
    .toBeGreaterThan(0);
  await expect(page.getByTestId("newest-row").first()).toBeVisible();

  await page.screenshot({ path: join(artifactsDir, "noc.png"), fullPage: true });
});
