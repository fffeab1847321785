#!/usr/bin/env node
// `npm test`: every test of the project, from a clean clone with only Node and npm.
//  1. Debian packages the tests need (Chromium, radclient) via install-system-deps.sh.
//  2. A PostgreSQL for integration tests: TEST_DATABASE_URL if set (an admin URL; each
//     test file creates its own database), otherwise an embedded PostgreSQL started here.
//  3. lint, typecheck, unit + integration tests of every workspace (turbo), the root
//     tests (package graph), then the end-to-end tests in Chromium.
//  4. A closing line "N passed, N failed" summed from every runner's JSON report.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const resultsDir = join(root, ".data", "test-results");
const args = new Set(process.argv.slice(2));
const skipE2e = args.has("--no-e2e");

const env = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: "1",
  TURBO_TELEMETRY_DISABLED: "1",
  TEST_RESULTS_DIR: resultsDir,
  FORCE_COLOR: process.env.FORCE_COLOR ?? "0",
};

function step(name) {
  console.log(`\n=== ${name} ===`);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: "inherit", cwd: root, env, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

const failures = [];

step("system packages (chromium, freeradius-utils)");
const sys = run("bash", [join(root, "scripts/install-system-deps.sh")]);
if (sys !== 0) {
  console.error("[test] system packages missing: interop tests will report themselves skipped, e2e cannot run.");
}

step("prisma generate");
if (run("npm", ["run", "generate", "-w", "@isp/db"]) !== 0) failures.push("prisma generate");

rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

let embedded;
if (!env.TEST_DATABASE_URL) {
  step("embedded PostgreSQL for tests");
  // Started in a child process so this script stays plain JavaScript.
  embedded = spawn(process.execPath, ["--import", "tsx", join(root, "scripts/test-postgres.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  env.TEST_DATABASE_URL = await new Promise((resolve, reject) => {
    let buf = "";
    embedded.stdout.on("data", (chunk) => {
      buf += chunk;
      const m = /^TEST_DATABASE_URL=(\S+)$/m.exec(buf);
      if (m) resolve(m[1]);
    });
    embedded.on("exit", (code) => reject(new Error(`embedded PostgreSQL exited with ${code}: ${buf}`)));
  });
  console.log(`[test] embedded PostgreSQL at ${env.TEST_DATABASE_URL}`);
} else {
  console.log(`[test] using TEST_DATABASE_URL=${env.TEST_DATABASE_URL}`);
}

try {
  step("lint");
  if (run("npx", ["eslint", "--max-warnings", "0", "."]) !== 0) failures.push("lint");

  step("typecheck");
  if (run("npx", ["turbo", "run", "typecheck", "--output-logs=errors-only"]) !== 0) failures.push("typecheck");

  step("unit and integration tests");
  if (run("npx", ["turbo", "run", "test", "--concurrency=2", "--output-logs=full"]) !== 0) failures.push("workspace tests");

  step("root tests (package graph)");
  if (run("npx", ["vitest", "run", "--config", "vitest.config.ts"]) !== 0) failures.push("root tests");

  if (!skipE2e) {
    step("end-to-end (Playwright, Chromium)");
    if (run("npm", ["run", "e2e", "-w", "@isp/web"]) !== 0) failures.push("e2e");
  }
} finally {
  if (embedded) {
    embedded.kill("SIGTERM");
    await new Promise((resolve) => embedded.once("exit", resolve));
  }
}

// Sum the JSON reports (vitest: numPassedTests/numFailedTests; playwright: stats).
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of existsSync(resultsDir) ? readdirSync(resultsDir) : []) {
  if (!file.endsWith(".json")) continue;
  try {
    const report = JSON.parse(readFileSync(join(resultsDir, file), "utf8"));
    if (typeof report.numPassedTests === "number") {
      passed += report.numPassedTests;
      failed += report.numFailedTests;
      skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    } else if (report.stats) {
      passed += report.stats.expected ?? 0;
      failed += (report.stats.unexpected ?? 0) + (report.stats.flaky ?? 0);
      skipped += report.stats.skipped ?? 0;
    }
  } catch (err) {
    console.error(`[test] unreadable report ${file}: ${err.message}`);
    failures.push(`report ${file}`);
  }
}
if (failures.length > 0) console.error(`\n[test] failed steps: ${failures.join(", ")}`);
if (failures.length > 0 && failed === 0) failed = failures.length;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failures.length > 0 ? 1 : 0);
