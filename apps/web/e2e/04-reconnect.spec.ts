import { expect, test } from "@playwright/test";
import { login, onlineCount } from "./helpers";

async function collector(action: "stop" | "start"): Promise<void> {
  const url = process.env.E2E_CONTROL_URL;
  if (!url) throw new Error("E2E_CONTROL_URL is not set: run the specs through e2e/run.mjs");
  const res = await fetch(`${url}/collector/${action}`, { method: "POST" });
  expect(res.status, await res.text()).toBe(200);
}

// Last spec: it restarts the collector under everything else.
test("the wall survives a collector restart without a reload", async ({ page }) => {
  await login(page, "noc");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "live");
  // Marks this document: a reload would lose it.
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }));

  await collector("stop");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "reconnecting");
  await collector("start");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-status", "live", { timeout: 30_000 });
  // Fresh pushes arrive again (the simulator re-dials after the restart).
  await expect.poll(() => onlineCount(page), { timeout: 45_000 }).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
});
