import { expect, test } from "@playwright/test";
import { closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

test("a wrong password shows an error and stays on /login", async ({ page }) => {
  await page.goto("/login");
  await page.getByTestId("login-username").fill("support");
  await page.getByTestId("login-password").fill("not-the-password");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toHaveText(/wrong username or password/i);
  await expect(page).toHaveURL(/\/login/);
});

test("signed-out visitors are sent to /login", async ({ page }) => {
  await page.goto("/subscribers");
  await expect(page).toHaveURL(/\/login/);
});

test("a dealer sees only their own subscribers and cannot disconnect", async ({ page }) => {
  const { rows } = await db().query<{ own: number; other: number }>(
    `SELECT
       (SELECT s.id FROM subscribers s WHERE s.dealer_id = o.dealer_id ORDER BY s.id LIMIT 1) AS own,
       (SELECT s.id FROM subscribers s WHERE s.dealer_id IS NOT NULL AND s.dealer_id <> o.dealer_id ORDER BY s.id LIMIT 1) AS other
     FROM operators o WHERE o.username = 'dealer'`,
  );
  const { own, other } = rows[0]!;
  expect(own).toBeTruthy();
  expect(other).toBeTruthy();

  await login(page, "dealer");
  await expect(page).toHaveURL(/\/subscribers/);

  await page.goto(`/subscribers/${other}`);
  await expect(page.getByTestId("not-found")).toBeVisible();
  await expect(page.getByTestId("profile")).toHaveCount(0);

  await page.goto(`/subscribers/${own}`);
  await expect(page.getByTestId("profile")).toBeVisible();
  await expect(page.getByTestId("disconnect-button")).toBeDisabled();

  // The API refuses too, not only the button.
  const res = await page.request.post("/api/trpc/subscriber.disconnect", { data: { id: own } });
  expect(res.status()).toBe(403);

  // Search never lists another dealer's subscriber.
  const other_ = await db().query<{ account_no: string }>("SELECT account_no FROM subscribers WHERE id = $1", [other]);
  await page.goto(`/subscribers?q=${encodeURIComponent(other_.rows[0]!.account_no)}`);
  await expect(page.getByTestId("search-results")).toContainText("No subscriber matches");
});
