// Started by e2e/run.mjs, which provides the servers (E2E_BASE_URL) and the database.
import { join } from "node:path";
import { defineConfig } from "@playwright/test";

const resultsDir = process.env.TEST_RESULTS_DIR;

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  // One browser at a time: the specs share one live system (the support spec disconnects
  // a session the NOC spec counts) and the machine has two cores.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  retries: 0,
  outputDir: join(import.meta.dirname, "artifacts/test-results"),
  reporter: resultsDir
    ? [["list"], ["json", { outputFile: join(resultsDir, "web-e2e.json") }]]
    : [["list"]],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    viewport: { width: 1600, height: 1000 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
});
