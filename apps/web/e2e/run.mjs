#!/usr/bin/env node
// `npm run e2e -w @isp/web`: the whole product in a sandbox, then Playwright in Chromium.
//  fresh database (from TEST_DATABASE_URL) -> migrate + seed -> next build ->
//  next start + collector (RADIUS, live hub, enforcement worker, router simulator) on free
//  ports -> playwright test -> always: stop children, drop the database.
// Exits with Playwright's status.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdirSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const webDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(webDir, "../..");

const startupTimeoutMs = 90_000;
const stopGraceMs = 10_000;
const simulatorSessions = 40;

const log = (msg) => console.log(`[e2e] ${msg}`);

async function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function freeUdpPort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    sock.once("error", reject);
    sock.bind(0, host, () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

async function distinctPorts(pick, n, taken) {
  const out = [];
  while (out.length < n) {
    const p = await pick();
    if (!taken.has(p)) {
      taken.add(p);
      out.push(p);
    }
  }
  return out;
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(adminUrl, sql, params = []) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function waitFor(name, check, child) {
  const deadline = Date.now() + startupTimeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} during startup`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} not ready after ${startupTimeoutMs} ms`);
}

const tcpOpen = (port) =>
  new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

const children = [];
function launch(name, cmd, args, cwd, env) {
  const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const prefix = (stream, out) =>
    stream.on("data", (chunk) => {
      for (const line of String(chunk).split("\n")) if (line.trim()) out.write(`[${name}] ${line}\n`);
    });
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  children.push({ name, child });
  return child;
}

async function stopChild({ name, child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // Detached: the child leads its own process group, so npx/tsx grandchildren stop too.
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => {
    log(`${name} ignored SIGTERM for ${stopGraceMs} ms; killing`);
    signal("SIGKILL");
  }, stopGraceMs);
  await exited;
  clearTimeout(timer);
}

const adminUrl = process.env.TEST_DATABASE_URL;
if (!adminUrl) {
  console.error("[e2e] TEST_DATABASE_URL is not set (an admin PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)");
  process.exit(2);
}

const dbName = `isp_e2e_${randomBytes(5).toString("hex")}`;
const databaseUrl = withDatabase(adminUrl, dbName);
let dbCreated = false;
let tearingDown = false;
let status = 1;

async function teardown() {
  if (tearingDown) return;
  tearingDown = true;
  // Reverse order: the web app and collector before the database they hold connections to.
  for (const c of [...children].reverse()) await stopChild(c);
  if (dbCreated && !process.env.E2E_KEEP_DATABASE) {
    try {
      await adminQuery(adminUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]);
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}"`);
      log(`dropped database ${dbName}`);
    } catch (err) {
      console.error(`[e2e] could not drop ${dbName}: ${err.message}`);
    }
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    log(`${sig}: tearing down`);
    void teardown().then(() => process.exit(130));
  });
}

try {
  const taken = new Set();
  const [webPort, livePort] = await distinctPorts(freeTcpPort, 2, taken);
  const [authPort, acctPort, syslogUdpPort] = await distinctPorts(freeUdpPort, 3, taken);
  const [syslogTcpPort] = await distinctPorts(freeTcpPort, 1, taken);
  const webUrl = `http://127.0.0.1:${webPort}`;
  const authSecret = randomBytes(32).toString("hex");
  const env = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: databaseUrl,
    AUTH_SECRET: authSecret,
    NEXTAUTH_SECRET: authSecret,
    NEXTAUTH_URL: webUrl,
    LIVE_PORT: String(livePort),
    LIVE_PUBLIC_URL: `http://127.0.0.1:${livePort}`,
    LIVE_CORS_ORIGIN: webUrl,
    RADIUS_HOST: "127.0.0.1",
    RADIUS_AUTH_PORT: String(authPort),
    RADIUS_ACCT_PORT: String(acctPort),
    // NAT logs on free ports too (the default 5514 may belong to `npm start` or another run).
    SYSLOG_HOST: "127.0.0.1",
    SYSLOG_UDP_PORT: String(syslogUdpPort),
    SYSLOG_TCP_PORT: String(syslogTcpPort),
    SIMULATOR: "on",
    SIMULATOR_SESSIONS: String(simulatorSessions),
    // Short interims so counters and bandwidth move while the tests watch.
    ACCT_INTERIM_INTERVAL_S: process.env.ACCT_INTERIM_INTERVAL_S ?? "10",
  };
  log(`database ${dbName}; web ${webUrl}; live ${livePort}; radius ${authPort}/${acctPort}`);

  await adminQuery(adminUrl, `CREATE DATABASE "${dbName}"`);
  dbCreated = true;
  const seeded = spawnSync("npm", ["run", "seed", "-w", "@isp/db"], { cwd: root, env, stdio: "inherit" });
  if (seeded.status !== 0) throw new Error("migrate + seed failed");
  // The simulated routers listen for CoA on the port their row names (3799 in the seed);
  // free ones let this run share the machine with `npm start` or another test run.
  const { rows: routers } = await adminQuery(databaseUrl, "SELECT id FROM routers ORDER BY id");
  const coaPorts = await distinctPorts(() => freeUdpPort("0.0.0.0"), routers.length, taken);
  for (const [i, r] of routers.entries()) {
    await adminQuery(databaseUrl, "UPDATE routers SET coa_port = $1 WHERE id = $2", [coaPorts[i], r.id]);
  }

  if (!process.env.E2E_SKIP_BUILD) {
    log("next build ...");
    const built = spawnSync(process.execPath, [join(root, "node_modules/next/dist/bin/next"), "build"], { cwd: webDir, env, stdio: "inherit" });
    if (built.status !== 0) throw new Error("next build failed");
  }

  const web = launch("web", process.execPath, [join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(webPort), "-H", "127.0.0.1"], webDir, env);
  await waitFor("web", async () => (await fetch(`${webUrl}/login`)).ok, web);
  // The collector last, so the simulator's sessions are still dialling in when the wall opens.
  const startCollector = async () => {
    const collector = launch("collector", process.execPath, ["--import", "tsx", "src/main.ts"], join(root, "apps/collector"), env);
    await waitFor("collector", () => tcpOpen(livePort), collector);
    return collector;
  };
  let collector = await startCollector();
  log("web and collector are up; running Playwright");

  // Loopback control for the reconnect spec: stop and start the collector as an operator would.
  const control = createHttpServer((req, res) => {
    const reply = (code, text) => res.writeHead(code, { "content-type": "text/plain" }).end(text);
    if (req.method !== "POST") return reply(405, "POST only");
    const run =
      req.url === "/collector/stop"
        ? stopChild({ name: "collector", child: collector }).then(() => {
            const i = children.findIndex((c) => c.child === collector);
            if (i >= 0) children.splice(i, 1);
          })
        : req.url === "/collector/start"
          ? startCollector().then((c) => {
              collector = c;
            })
          : null;
    if (!run) return reply(404, "unknown");
    run.then(() => reply(200, "ok"), (err) => reply(500, String(err)));
  });
  const controlPort = await freeTcpPort();
  await new Promise((resolve) => control.listen(controlPort, "127.0.0.1", resolve));
  control.unref();

  mkdirSync(join(webDir, "e2e/artifacts"), { recursive: true });
  // Asynchronous spawn: the control server above must keep answering while the specs run.
  const pw = spawn(
    process.execPath,
    [join(root, "node_modules/@playwright/test/cli.js"), "test", "--config", join(webDir, "e2e/playwright.config.ts"), ...process.argv.slice(2)],
    { cwd: webDir, env: { ...env, E2E_BASE_URL: webUrl, E2E_DATABASE_URL: databaseUrl, E2E_CONTROL_URL: `http://127.0.0.1:${controlPort}` }, stdio: "inherit" },
  );
  status = await new Promise((resolve) => pw.once("exit", (code) => resolve(code ?? 1)));
  control.close();
} catch (err) {
  console.error(`[e2e] ${err.stack ?? err}`);
} finally {
  await teardown();
}
log(status === 0 ? "passed" : `failed (status ${status})`);
process.exit(status);
