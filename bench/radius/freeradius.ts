// The comparison peer: Debian's FreeRADIUS 3.2 with its SQL module on the same
// PostgreSQL, as most ISPs run it. A private instance: a copy of /etc/freeradius/3.0
// under a temp dir with loopback listeners on free ports, one client (127.0.0.1), the
// sql module (postgresql dialect) enabled, reject_delay 0, and everything else as the
// distribution ships it (authorize/accounting/post-auth via sql, detail file, thread pool 5..32).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { mikrotikRateLimit } from "@isp/network/radius/rate-limit";

const systemConfDir = "/etc/freeradius/3.0";
const installScript = join(dirname(fileURLToPath(import.meta.url)), "install-freeradius.sh");

export interface FreeRadiusSubscriber {
  username: string;
  password: string;
  active: boolean;
  planCode: string;
  staticIp: string | null;
}

export interface FreeRadiusPlan {
  code: string;
  downloadKbps: number;
  uploadKbps: number;
}

export function freeradiusBinary(): string | undefined {
  for (const p of ["/usr/sbin/freeradius", "/usr/sbin/radiusd"]) if (existsSync(p)) return p;
  return undefined;
}

/** Installs freeradius + freeradius-postgresql through the project's script when missing. */
export function ensureFreeRadius(log: (line: string) => void): string {
  const found = freeradiusBinary();
  if (found && existsSync(join(systemConfDir, "mods-config/sql/main/postgresql/schema.sql"))) return found;
  log("FreeRADIUS not installed: running bench/radius/install-freeradius.sh");
  const r = spawnSync("bash", [installScript], { stdio: "inherit" });
  const bin = freeradiusBinary();
  if (r.status !== 0 || !bin) throw new Error(`could not install FreeRADIUS (exit ${r.status}); run: bash ${installScript}`);
  return bin;
}

/** The standard FreeRADIUS schema in `database`, filled with the same subscribers (plans as SQL groups). */
export async function populateFreeRadiusDatabase(url: string, subscribers: FreeRadiusSubscriber[], plans: FreeRadiusPlan[], interimS: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(readFileSync(join(systemConfDir, "mods-config/sql/main/postgresql/schema.sql"), "utf8"));
    for (const p of plans) {
      await client.query(
        `INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ($1, 'Mikrotik-Rate-Limit', ':=', $2), ($1, 'Acct-Interim-Interval', ':=', $3)`,
        [p.code, mikrotikRateLimit({ downloadKbps: p.downloadKbps, uploadKbps: p.uploadKbps }), String(interimS)],
      );
    }
    const chunk = 20_000;
    for (let i = 0; i < subscribers.length; i += chunk) {
      const part = subscribers.slice(i, i + chunk);
      const check: [string[], string[], string[]] = [[], [], []];
      const add = (u: string, a: string, v: string) => {
        check[0].push(u);
        check[1].push(a);
        check[2].push(v);
      };
      for (const s of part) {
        add(s.username, "Cleartext-Password", s.password);
        // Not active (suspended, pending): rejected, as the collector rejects them.
        if (!s.active) add(s.username, "Auth-Type", "Reject");
      }
      await client.query(`INSERT INTO radcheck (username, attribute, op, value) SELECT u, a, ':=', v FROM unnest($1::text[], $2::text[], $3::text[]) AS t(u, a, v)`, check);
      await client.query(`INSERT INTO radusergroup (username, groupname, priority) SELECT u, g, 1 FROM unnest($1::text[], $2::text[]) AS t(u, g)`, [
        part.map((s) => s.username),
        part.map((s) => s.planCode),
      ]);
      const statics = part.filter((s) => s.staticIp);
      await client.query(`INSERT INTO radreply (username, attribute, op, value) SELECT u, 'Framed-IP-Address', ':=', v FROM unnest($1::text[], $2::text[]) AS t(u, v)`, [
        statics.map((s) => s.username),
        statics.map((s) => s.staticIp!),
      ]);
    }
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }
}

/** Removes every top-level `listen { ... }` section (brace-counted, comments ignored) from a virtual server file. */
export function stripListenSections(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  let depth = 0;
  let skipping = false;
  let skipDepth = 0;
  for (const line of lines) {
    const code = line.replace(/#.*$/, "");
    const opens = (code.match(/\{/g) ?? []).length;
    const closes = (code.match(/\}/g) ?? []).length;
    if (!skipping && /^\s*listen\s*\{/.test(code) && depth <= 1) {
      skipping = true;
      skipDepth = depth;
    }
    depth += opens - closes;
    if (skipping) {
      if (depth <= skipDepth) skipping = false;
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

export interface FreeRadiusConfig {
  dir: string;
  authPort: number;
  acctPort: number;
  secret: string;
  db: { host: string; port: number; user: string; password: string; database: string };
}

/** Writes the private configuration; returns the raddb directory. */
export function writeFreeRadiusConfig(cfg: FreeRadiusConfig): string {
  const raddb = join(cfg.dir, "raddb");
  rmSync(cfg.dir, { recursive: true, force: true });
  mkdirSync(join(cfg.dir, "log", "radacct"), { recursive: true });
  mkdirSync(join(cfg.dir, "run"), { recursive: true });
  cpSync(systemConfDir, raddb, { recursive: true, verbatimSymlinks: true });

  const edit = (rel: string, f: (s: string) => string) => writeFileSync(join(raddb, rel), f(readFileSync(join(raddb, rel), "utf8")));
  edit("radiusd.conf", (s) =>
    s
      .replace(/^logdir = .*$/m, `logdir = ${join(cfg.dir, "log")}`)
      .replace(/^raddbdir = .*$/m, `raddbdir = ${raddb}`)
      .replace(/^run_dir = .*$/m, `run_dir = ${join(cfg.dir, "run")}`)
      // Runs as the invoking user (the files are ours); the distribution drops to freerad.
      .replace(/^(\s*)(user|group) = freerad\s*$/gm, "$1# $2 = freerad")
      // Rejects answered at once, as the collector answers them: the default 1 s delay
      // (a brute-force brake) would show as timeouts in a throughput test.
      .replace(/^(\s*)reject_delay = 1\s*$/m, "$1reject_delay = 0"),
  );
  const listen = (type: string, port: number) => `\tlisten {\n\t\ttype = ${type}\n\t\tipaddr = 127.0.0.1\n\t\tport = ${port}\n\t}\n`;
  edit("sites-available/default", (s) =>
    stripListenSections(s).replace(/^server default \{\s*$/m, (m) => `${m}\n${listen("auth", cfg.authPort)}${listen("acct", cfg.acctPort)}`),
  );
  // inner-tunnel stays (eap references it) but without its loopback test listener.
  edit("sites-available/inner-tunnel", stripListenSections);
  writeFileSync(join(raddb, "clients.conf"), `client bench {\n\tipaddr = 127.0.0.1\n\tsecret = ${cfg.secret}\n\tnas_type = other\n}\n`);
  edit("mods-available/sql", (s) =>
    s
      .replace(/^(\s*)dialect = "sqlite"/m, '$1dialect = "postgresql"')
      .replace(/^(\s*)driver = "rlm_sql_null"/m, '$1driver = "rlm_sql_${dialect}"')
      .replace(/^#(\s*)server = "localhost"/m, `$1server = "${cfg.db.host}"`)
      .replace(/^#(\s*)port = 3306/m, `$1port = ${cfg.db.port}`)
      .replace(/^#(\s*)login = "radius"/m, `$1login = "${cfg.db.user}"`)
      .replace(/^#(\s*)password = "radpass"/m, `$1password = "${cfg.db.password}"`)
      .replace(/^(\s*)radius_db = "radius"/m, `$1radius_db = "${cfg.db.database}"`),
  );
  const sqlLink = join(raddb, "mods-enabled", "sql");
  if (!existsSync(sqlLink)) symlinkSync("../mods-available/sql", sqlLink);
  return raddb;
}

export interface RunningFreeRadius {
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startFreeRadius(binary: string, raddb: string): Promise<RunningFreeRadius> {
  const check = spawnSync(binary, ["-C", "-d", raddb], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`FreeRADIUS rejected the config:\n${(check.stdout + check.stderr).split("\n").slice(-30).join("\n")}`);
  // -f: foreground, production mode (no -X debug output, which would dominate the cost).
  const child: ChildProcess = spawn(binary, ["-f", "-d", raddb, "-l", "stdout"], { stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  const keep = (d: Buffer) => {
    tail.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  if (child.pid === undefined) throw new Error("could not start FreeRADIUS");
  return {
    pid: child.pid,
    output: () => tail.join("\n"),
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
