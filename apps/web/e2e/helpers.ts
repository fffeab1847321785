import { join } from "node:path";
import { expect, type Page } from "@playwright/test";
import pg from "pg";

// The specs read the database to pick subjects, never to fake state.

export const artifactsDir = join(import.meta.dirname, "artifacts");
export const demoPassword = "demo1234";

let pool: pg.Pool | null = null;
export function db(): pg.Pool {
  const url = process.env.E2E_DATABASE_URL;
  if (!url) throw new Error("E2E_DATABASE_URL is not set: run the specs through e2e/run.mjs");
  pool ??= new pg.Pool({ connectionString: url, max: 2 });
  return pool;
}

export async function closeDb(): Promise<void> {
  await pool?.end();
  pool = null;
}

export async function login(page: Page, username: string, password = demoPassword): Promise<void> {
  await page.goto("/login");
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await expect(page).not.toHaveURL(/\/login/);
}

export async function onlineCount(page: Page): Promise<number> {
  const text = (await page.getByTestId("online-count").textContent()) ?? "";
  return Number(text.replace(/[^\d]/g, ""));
}
