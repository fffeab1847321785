import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, login, onlineCount } from "./helpers";

test.afterAll(closeDb);

test("support disconnects a live session and the router confirms it", async ({ page, context }) => {
  await login(page, "support");
  await expect(page).toHaveURL(/\/subscribers/);

  // The wall, in a second tab of the same (support) login: pick the newest session there.
  const wall = await context.newPage();
  await wall.goto("/noc");
  await expect(wall.getByTestId("live-indicator")).toHaveAttribute("data-status", "live");
  const newest = wall.locator('[data-testid="newest-row"]:not([data-account=""])').first();
  await expect(newest).toBeVisible();
  const sessionId = await newest.getAttribute("data-session-id");
  const account = await newest.getAttribute("data-account");
  expect(sessionId).toBeTruthy();
  expect(account).toBeTruthy();

  await page.getByTestId("subscriber-search").fill(account!);
  const row = page.locator(`[data-testid="search-row"][data-account="${account}"]`);
  await expect(row).toBeVisible();
  await row.getByRole("link", { name: account! }).click();
  await expect(page.getByTestId("profile-account")).toHaveText(account!);

  const card = page.getByTestId("session-card");
  await expect(card).toHaveAttribute("data-online", "true");
  await expect(page.getByTestId("session-bytes-out")).toHaveText(/^\d+(\.\d)? (B|KB|MB|GB|TB)$/);
  // Interim accounting reaches the open page over the socket (subscriber:session), no reload.
  const loadedAt = await card.getAttribute("data-last-update");
  await expect(card).not.toHaveAttribute("data-last-update", loadedAt!, { timeout: 30_000 });
  await expect(card).toHaveAttribute("data-online", "true");
  await page.screenshot({ path: join(artifactsDir, "subscriber.png"), fullPage: true });

  const before = await onlineCount(wall);
  const button = page.getByTestId("disconnect-button");
  await expect(button).toBeEnabled();
  await button.click();
  const result = page.getByTestId("action-result");
  await expect(result).toHaveText(/Sending to router…|Router confirmed in \d+ ms/);
  await expect(result).toHaveText(/^Router confirmed in \d+ ms$/, { timeout: 5_000 });
  await expect(card).toHaveAttribute("data-online", "false");
  await expect(page.getByTestId("action-row").first()).toHaveAttribute("data-status", "acked");
  await page.screenshot({ path: join(artifactsDir, "subscriber-disconnected.png"), fullPage: true });

  // The wall drops the session without a reload.
  await expect(wall.locator(`[data-testid="newest-row"][data-session-id="${sessionId}"]`)).toHaveCount(0, { timeout: 15_000 });
  expect(before).toBeGreaterThan(0);
});
