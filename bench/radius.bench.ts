// `npm run bench -- radius`: the collector against Debian's FreeRADIUS 3.2 + SQL on the
// same PostgreSQL, the same subscribers and the same load generator (bench/radius/load.ts),
// in one run. Both servers run as separate processes and are driven over loopback UDP.
// Sizes come from RADIUS_BENCH_* (see docs/benchmarks.md); the defaults are the issue's.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createPrisma } from "@isp/db/client";
import { migrate } from "@isp/db/migrate";
import { DEMO_NAS, DEMO_PLANS, generateSubscribers, seed } from "@isp/db/seed";
import type { BenchContext, Figure } from "./lib";
import { freePort, sendAccountingOn, socketDrops, startCollector, udpSnmp, waitForRadius, type RunningCollector } from "./radius/collector";
import { ensureFreeRadius, populateFreeRadiusDatabase, startFreeRadius, writeFreeRadiusConfig, type RunningFreeRadius } from "./radius/freeradius";
import { LoadGenerator, measureCeiling, type LoadSummary, type Target } from "./radius/load";
import { acctCounters, acctOrder, acctRecordKey, acctStatusOf, ACCT_STATUS, type AcctSession, type Credential } from "./radius/packets";
import { topSelfTime } from "./radius/profile";

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return v;
}

const allPhases = ["auth", "acct", "storm", "freeradius"] as const;
type Phase = (typeof allPhases)[number];
function phases(raw: string): Set<Phase> {
  const out = new Set<Phase>();
  for (const p of raw.split(",").map((x) => x.trim()).filter(Boolean)) {
    if (!(allPhases as readonly string[]).includes(p)) throw new Error(`RADIUS_BENCH_PHASES: unknown phase "${p}" (${allPhases.join(", ")})`);
    out.add(p as Phase);
  }
  return out;
}

const cfg = {
  subscribers: num("RADIUS_BENCH_SUBSCRIBERS", 100_000),
  /** Closed-loop saturation run, per server. */
  seconds: num("RADIUS_BENCH_SECONDS", 10),
  /** Each paced step of the p99 search. */
  stepSeconds: num("RADIUS_BENCH_STEP_SECONDS", 5),
  p99TargetMs: num("RADIUS_BENCH_P99_MS", 5),
  acctSeconds: num("RADIUS_BENCH_ACCT_SECONDS", 10),
  /** Upper bound of accounting packets per server run (pre-encoded; the run ends early if they run out). */
  acctPackets: num("RADIUS_BENCH_ACCT_PACKETS", 400_000),
  acctInterims: num("RADIUS_BENCH_ACCT_INTERIMS", 2),
  stormSubscribers: num("RADIUS_BENCH_STORM_SUBSCRIBERS", -1),
  stormSeconds: num("RADIUS_BENCH_STORM_SECONDS", 60),
  threads: num("RADIUS_BENCH_THREADS", 2),
  /** Outstanding Access-Requests in the saturation run (one busy NAS). */
  window: num("RADIUS_BENCH_WINDOW", 256),
  /** Outstanding Accounting-Requests: acks wait for a batched durable write, so many NAS' worth are in flight. */
  acctWindow: num("RADIUS_BENCH_ACCT_WINDOW", 2048),
  timeoutMs: num("RADIUS_BENCH_TIMEOUT_MS", 1000),
  /** Accounting waits for a durable write; NAS typically wait 3-5 s before retransmitting. */
  acctTimeoutMs: num("RADIUS_BENCH_ACCT_TIMEOUT_MS", 5000),
  ceilingSeconds: num("RADIUS_BENCH_CEILING_SECONDS", 3),
  /** Distinct pre-encoded Access-Requests per server: larger than rate x 5 s so no packet repeats inside a duplicate cache. */
  authPool: num("RADIUS_BENCH_AUTH_POOL", 150_000),
  phases: phases(process.env.RADIUS_BENCH_PHASES ?? allPhases.join(",")),
  cpuProf: (process.env.RADIUS_BENCH_CPU_PROF ?? "off") !== "off",
  keepDatabases: (process.env.RADIUS_BENCH_KEEP_DB ?? "off") !== "off",
};

const root = process.cwd();
const secret = DEMO_NAS.secret;
const nasIp = DEMO_NAS.ip;
/** Fractions of the saturated rate tried, highest first, when the saturated p99 misses the target. */
const paceSteps = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];

interface AuthLevel {
  saturated: LoadSummary;
  /** Highest paced level with p99 within target, no timeouts and >= 95% of the asked rate; else null. */
  withinTarget: LoadSummary | null;
  timeouts: number;
}

async function authLevels(gen: LoadGenerator, log: (l: string) => void, label: string): Promise<AuthLevel> {
  const saturated = await gen.run({ mode: "closed", window: cfg.window, seconds: cfg.seconds, timeoutMs: cfg.timeoutMs });
  log(`${label} auth saturated (window ${cfg.window}): ${describe(saturated)}`);
  let timeouts = saturated.timeouts;
  if (saturated.p99Ms <= cfg.p99TargetMs && saturated.timeouts === 0) return { saturated, withinTarget: saturated, timeouts };
  for (const f of paceSteps) {
    const rate = Math.max(1, Math.round(saturated.perSecond * f));
    const r = await gen.run({ mode: "paced", rate, window: 2048, seconds: cfg.stepSeconds, timeoutMs: cfg.timeoutMs });
    timeouts += r.timeouts;
    log(`${label} auth paced ${rate}/s: ${describe(r)}`);
    if (r.p99Ms <= cfg.p99TargetMs && r.timeouts === 0 && r.perSecond >= 0.95 * rate) return { saturated, withinTarget: r, timeouts };
  }
  return { saturated, withinTarget: null, timeouts };
}

function describe(r: LoadSummary): string {
  return (
    `${Math.round(r.perSecond)}/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(1)} ms; ` +
    `sent ${r.sent}, answered ${r.answered} (accept ${r.accepts}, reject ${r.rejects}, acct-response ${r.acctResponses}, other ${r.otherCodes}), timeouts ${r.timeouts}, stray ${r.stray}`
  );
}

function credentialsFor(subs: { pppoeUsername: string; pppoePassword: string }[], count: number): Credential[] {
  return Array.from({ length: count }, (_, i) => {
    const s = subs[i % subs.length]!;
    return { username: s.pppoeUsername, password: s.pppoePassword };
  });
}

function acctSessions(tag: string, subs: { pppoeUsername: string }[]): AcctSession[] {
  const count = Math.max(1, Math.floor(cfg.acctPackets / (cfg.acctInterims + 2)));
  return Array.from({ length: count }, (_, i) => ({ sessionId: `${tag}-${i.toString(36)}`, username: subs[i % subs.length]!.pppoeUsername, ordinal: i }));
}

/** Keys of the accounting records that were acknowledged, and how many acked records were Stops. */
function ackedKeys(split: AcctSession[][], acked: Uint8Array[]): { keys: string[]; stops: number } {
  const keys: string[] = [];
  let stops = 0;
  split.forEach((sessions, t) => {
    const flags = acked[t]!;
    acctOrder(sessions.length, cfg.acctInterims).forEach(({ session, step }, i) => {
      if (flags[i] !== 1) return;
      const s = sessions[session]!;
      const status = acctStatusOf(step, cfg.acctInterims);
      if (status === ACCT_STATUS.stop) stops++;
      keys.push(acctRecordKey(s.sessionId, status, acctCounters(s.ordinal, step).sessionTimeS));
    });
  });
  return { keys, stops };
}

function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export default async function radiusBench(ctx: BenchContext): Promise<Figure[]> {
  const figures: Figure[] = [];
  const fig = (key: string, value: number, unit: string) => figures.push({ key, value: Number.isFinite(value) ? value : -1, unit });
  const log = ctx.log;
  const stormCount = cfg.stormSubscribers < 0 ? cfg.subscribers : Math.min(cfg.stormSubscribers, cfg.subscribers);
  log(`config: ${JSON.stringify({ ...cfg, phases: [...cfg.phases], stormSubscribers: stormCount })}`);

  const adminUrl = await ctx.databaseAdminUrl();
  const stamp = `${Date.now().toString(36)}_${process.pid}`;
  const dbName = `radius_bench_${stamp}`;
  const frDbName = `radius_bench_fr_${stamp}`;
  const workDir = join(tmpdir(), `radius-bench-${stamp}`);
  mkdirSync(workDir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  let collector: RunningCollector | undefined;
  let freeradius: RunningFreeRadius | undefined;
  const has = (p: Phase) => cfg.phases.has(p);

  try {
    // ---- data: the collector's database (migrated, seeded) and the same subscribers for FreeRADIUS
    await adminQuery(adminUrl, `CREATE DATABASE ${dbName}`);
    if (!cfg.keepDatabases) cleanups.push(() => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    const dbUrl = withDatabase(adminUrl, dbName);
    const t0 = Date.now();
    const secretsKey = randomBytes(32);
    const { flavour } = await migrate(dbUrl);
    const prisma = createPrisma(dbUrl);
    try {
      // Passwords encrypted at rest with the collector's key, as in production; seeded in
      // plain text they would be re-encrypted (a mass update) while the collector starts.
      await seed(prisma, { subscribers: cfg.subscribers, secretsKey });
    } finally {
      await prisma.$disconnect();
    }
    const subs = generateSubscribers(cfg.subscribers);
    const active = subs.filter((s) => s.status === "active");
    log(`seeded ${subs.length} subscribers (${active.length} active; time-series ${flavour}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const authCreds = credentialsFor(subs, Math.max(cfg.authPool, subs.length));

    // ---- the generator's own ceiling
    const ceiling = await measureCeiling({ threads: cfg.threads, seconds: cfg.ceilingSeconds, window: 512, credentials: authCreds.slice(0, 50_000) });
    log(`generator ceiling against a UDP echo peer: ${describe(ceiling.saturated)}`);
    log(`generator paced at ${Math.round(ceiling.paced.perSecond)}/s against the echo peer (its own latency floor): ${describe(ceiling.paced)}`);
    fig("generator_ceiling_per_s", ceiling.saturated.perSecond, "/s");
    fig("generator_paced_p99_ms", ceiling.paced.p99Ms, "ms");

    const gen = new LoadGenerator({ threads: cfg.threads, socketsPerThread: 16 });
    cleanups.push(() => gen.close());
    let auth: AuthLevel | undefined;
    let acct: LoadSummary | undefined;

    // ---- the collector
    if (has("auth") || has("acct") || has("storm")) {
      const authPort = await freePort(true);
      const acctPort = await freePort(true);
      const livePort = await freePort(false);
      // Under .data (ignored by git): profiles are large and per machine.
      const profDir = join(root, ".data", "radius-bench-cpu-prof");
      if (cfg.cpuProf) {
        rmSync(profDir, { recursive: true, force: true });
        mkdirSync(profDir, { recursive: true });
      }
      const started = Date.now();
      collector = startCollector({
        root,
        databaseUrl: dbUrl,
        authPort,
        acctPort,
        livePort,
        dataDir: join(workDir, "collector-data"),
        secretsKeyHex: secretsKey.toString("hex"),
        cpuProfDir: cfg.cpuProf ? profDir : undefined,
      });
      const running = collector;
      try {
        await waitForRadius({ host: "127.0.0.1", port: authPort, secret, nasIp, credential: authCreds[0]!, timeoutMs: 120_000, alive: () => !running.exited() });
      } catch (err) {
        throw new Error(`collector did not come up: ${(err as Error).message}\n${collector.output()}`, { cause: err });
      }
      log(`collector up (pid ${collector.pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s: auth udp/${authPort}, acct udp/${acctPort}`);
      const collectorAuth: Target = { host: "127.0.0.1", port: authPort, secret, nasIp };

      if (has("auth")) {
        await gen.prepareAuth(collectorAuth, authCreds);
        auth = await authLevels(gen, log, "collector");
        const best = auth.withinTarget ?? auth.saturated;
        fig("auth_per_s", best.perSecond, "/s");
        fig("auth_p50_ms", best.p50Ms, "ms");
        fig("auth_p99_ms", best.p99Ms, "ms");
        fig("auth_p99_target_met", auth.withinTarget ? 1 : 0, "");
        fig("auth_saturated_per_s", auth.saturated.perSecond, "/s");
        fig("auth_saturated_p99_ms", auth.saturated.p99Ms, "ms");
        fig("auth_timeouts", auth.timeouts, "");
      }

      if (has("acct")) {
        const split = await gen.prepareAcct({ host: "127.0.0.1", port: acctPort, secret, nasIp }, acctSessions(`rb${stamp}`, subs), cfg.acctInterims);
        acct = await gen.run({ mode: "closed", window: cfg.acctWindow, seconds: cfg.acctSeconds, timeoutMs: cfg.acctTimeoutMs });
        log(`collector acct (window ${cfg.acctWindow}): ${describe(acct)}`);
        fig("acct_per_s", acct.perSecond, "/s");
        fig("acct_p50_ms", acct.p50Ms, "ms");
        fig("acct_p99_ms", acct.p99Ms, "ms");
        fig("acct_sent", acct.sent, "");
        fig("acct_acked", acct.acctResponses, "");
        fig("acct_timeouts", acct.timeouts, "");
        const lost = await countLost(dbUrl, split, acct, log);
        if (lost) {
          fig("acct_stored", lost.stored, "");
          fig("acct_lost", lost.lost, "");
          fig("acct_sessions_stop_acked", lost.stopsAcked, "");
          fig("acct_sessions_stopped_stored", lost.sessionsStopped, "");
        }
      }

      // ---- reconnect storm: every subscriber re-authenticates within stormSeconds
      if (has("storm")) {
        const stormGen = new LoadGenerator({ threads: cfg.threads, socketsPerThread: 16 });
        cleanups.push(() => stormGen.close());
        await stormGen.prepareAuth(collectorAuth, credentialsFor(subs, stormCount));
        // The storm follows a BNG reboot: Accounting-On closes the sessions the accounting phase left open.
        const on = await sendAccountingOn({ host: "127.0.0.1", port: acctPort, secret, nasIp });
        log(`Accounting-On before the storm: ${on ? "acknowledged" : "NOT acknowledged"}`);
        const snmpBefore = udpSnmp();
        const dropsBefore = socketDrops(authPort);
        const stormRate = stormCount / cfg.stormSeconds;
        const storm = await stormGen.run({ mode: "paced", rate: stormRate, window: 8192, seconds: cfg.stormSeconds + 5, timeoutMs: 3000, maxPackets: stormCount });
        const snmpAfter = udpSnmp();
        const dropsAfter = socketDrops(authPort);
        log(`storm: ${stormCount} re-authentications at ${Math.round(stormRate)}/s: ${describe(storm)}`);
        fig("storm_subscribers", stormCount, "");
        fig("storm_window_s", cfg.stormSeconds, "s");
        fig("storm_auth_sent", storm.sent, "");
        fig("storm_auth_answered", storm.answered, "");
        fig("storm_auth_accepted", storm.accepts, "");
        fig("storm_auth_rejected", storm.rejects, "");
        fig("storm_auth_expected_accepts", subs.slice(0, stormCount).filter((s) => s.status === "active").length, "");
        fig("storm_auth_timeouts", storm.timeouts, "");
        fig("storm_auth_p99_ms", storm.p99Ms, "ms");
        fig("storm_udp_rcvbuf_errors", snmpAfter.rcvbufErrors - snmpBefore.rcvbufErrors, "");
        fig("storm_udp_in_errors", snmpAfter.inErrors - snmpBefore.inErrors, "");
        fig("storm_socket_drops", dropsAfter - dropsBefore, "");
      }

      await collector.stop();
      const complaints = collector.output().split("\n").filter((l) => /\b(WARN|ERROR)\b/.test(l));
      if (complaints.length > 0) log(`collector warnings/errors (last ${Math.min(10, complaints.length)} of ${complaints.length}):`);
      for (const l of complaints.slice(-10)) log(`  ${l.slice(0, 300)}`);
      collector = undefined;
      if (cfg.cpuProf) {
        log(`collector CPU profile in ${profDir}; top self time:`);
        for (const line of topSelfTime(profDir, root)) log(`  ${line}`);
      }
    }

    // ---- FreeRADIUS + SQL on the same PostgreSQL, same subscribers, same generator
    if (has("freeradius") && (has("auth") || has("acct"))) {
      // A FreeRADIUS that cannot be installed or started costs the comparison, not the collector's figures.
      try {
        const binary = ensureFreeRadius(log);
        await adminQuery(adminUrl, `CREATE DATABASE ${frDbName}`);
        if (!cfg.keepDatabases) cleanups.push(() => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${frDbName} WITH (FORCE)`));
        const frUrl = withDatabase(adminUrl, frDbName);
        const plans = DEMO_PLANS.map((p) => ({ code: p.code, downloadKbps: p.downloadKbps, uploadKbps: p.uploadKbps }));
        await populateFreeRadiusDatabase(
          frUrl,
          subs.map((s) => ({ username: s.pppoeUsername, password: s.pppoePassword, active: s.status === "active", planCode: DEMO_PLANS[s.planIndex]!.code, staticIp: s.staticIp })),
          plans,
          60,
        );
        const u = new URL(adminUrl);
        const frAuthPort = await freePort(true);
        const frAcctPort = await freePort(true);
        const raddb = writeFreeRadiusConfig({
          dir: join(workDir, "freeradius"),
          authPort: frAuthPort,
          acctPort: frAcctPort,
          secret,
          db: { host: u.hostname || "127.0.0.1", port: Number(u.port || 5432), user: decodeURIComponent(u.username || "postgres"), password: decodeURIComponent(u.password), database: frDbName },
        });
        freeradius = await startFreeRadius(binary, raddb);
        const fr = freeradius;
        try {
          await waitForRadius({ host: "127.0.0.1", port: frAuthPort, secret, nasIp, credential: authCreds[0]!, timeoutMs: 30_000 });
        } catch (err) {
          throw new Error(`FreeRADIUS did not come up: ${(err as Error).message}\n${fr.output()}`, { cause: err });
        }
        log(`FreeRADIUS up (pid ${fr.pid}): auth udp/${frAuthPort}, acct udp/${frAcctPort}`);

        if (has("auth")) {
          await gen.prepareAuth({ host: "127.0.0.1", port: frAuthPort, secret, nasIp }, authCreds);
          const frAuth = await authLevels(gen, log, "FreeRADIUS");
          const frBest = frAuth.withinTarget ?? frAuth.saturated;
          fig("freeradius_auth_per_s", frBest.perSecond, "/s");
          fig("freeradius_auth_p50_ms", frBest.p50Ms, "ms");
          fig("freeradius_auth_p99_ms", frBest.p99Ms, "ms");
          fig("freeradius_auth_p99_target_met", frAuth.withinTarget ? 1 : 0, "");
          fig("freeradius_auth_saturated_per_s", frAuth.saturated.perSecond, "/s");
          fig("freeradius_auth_saturated_p99_ms", frAuth.saturated.p99Ms, "ms");
          if (auth) {
            // Like for like: both within the p99 target, else both saturated (a saturated rate over
            // a paced one would flatter whichever side missed the target).
            const bothWithin = auth.withinTarget && frAuth.withinTarget;
            fig(
              "auth_ratio_vs_freeradius",
              bothWithin ? auth.withinTarget!.perSecond / frAuth.withinTarget!.perSecond : auth.saturated.perSecond / frAuth.saturated.perSecond,
              "x",
            );
            fig("auth_saturated_ratio_vs_freeradius", auth.saturated.perSecond / frAuth.saturated.perSecond, "x");
          }
        }
        if (has("acct")) {
          await gen.prepareAcct({ host: "127.0.0.1", port: frAcctPort, secret, nasIp }, acctSessions(`fr${stamp}`, subs), cfg.acctInterims);
          const frAcct = await gen.run({ mode: "closed", window: cfg.acctWindow, seconds: cfg.acctSeconds, timeoutMs: cfg.acctTimeoutMs });
          log(`FreeRADIUS acct (window ${cfg.acctWindow}): ${describe(frAcct)}`);
          fig("freeradius_acct_per_s", frAcct.perSecond, "/s");
          fig("freeradius_acct_p99_ms", frAcct.p99Ms, "ms");
          fig("freeradius_acct_timeouts", frAcct.timeouts, "");
          if (acct) fig("acct_ratio_vs_freeradius", acct.perSecond / frAcct.perSecond, "x");
        }
        await fr.stop();
        freeradius = undefined;
        // Shows the comparison really went through SQL: a row per attempt in radpostauth, a row per session in radacct.
        const c = new pg.Client({ connectionString: frUrl });
        await c.connect();
        try {
          const q = await c.query<{ postauth: string; acct: string; stopped: string }>(
            "SELECT (SELECT count(*) FROM radpostauth) AS postauth, (SELECT count(*) FROM radacct) AS acct, (SELECT count(*) FROM radacct WHERE acctstoptime IS NOT NULL) AS stopped",
          );
          const row = q.rows[0];
          log(`FreeRADIUS SQL: ${row?.postauth} radpostauth rows, ${row?.acct} radacct sessions (${row?.stopped} stopped)`);
        } finally {
          await c.end();
        }
        fig("freeradius_ok", 1, "");
      } catch (err) {
        log(`FreeRADIUS comparison failed: ${(err as Error).message}`);
        fig("freeradius_ok", 0, "");
      }
    }
    return figures;
  } finally {
    await freeradius?.stop().catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    for (const c of cleanups.reverse()) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Acked records missing from accounting_records (matched by session, status and session
 * time), and acked Stops against sessions the collector closed. Waits for the writer to
 * settle first; null (and a log line) when the tables cannot be read.
 */
async function countLost(
  dbUrl: string,
  split: AcctSession[][],
  acct: LoadSummary,
  log: (l: string) => void,
): Promise<{ stored: number; lost: number; stopsAcked: number; sessionsStopped: number } | null> {
  const { keys, stops } = ackedKeys(split, acct.acked);
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    // An ack means committed or fsynced to the collector's spool, which replays into the
    // table when the database keeps up again: wait (up to 60 s) until every acked record
    // can be there, or the count has not moved for 3 s.
    let stored = -1;
    let still = 0;
    for (let i = 0; i < 120 && still < 6; i++) {
      const n = Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM accounting_records")).rows[0]?.n ?? 0);
      if (n >= keys.length) break;
      still = n === stored ? still + 1 : 0;
      stored = n;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rows = await client.query<{ k: string }>("SELECT acct_session_id || '|' || status_type || '|' || session_time_s AS k FROM accounting_records");
    const have = new Set(rows.rows.map((r) => r.k));
    const lost = keys.filter((k) => !have.has(k)).length;
    const stopped = await client.query<{ n: string }>("SELECT count(*) AS n FROM radius_sessions WHERE status = 'stopped'");
    const sessionsStopped = Number(stopped.rows[0]?.n ?? 0);
    log(`accounting check: ${keys.length} acked, ${rows.rowCount} rows in accounting_records, ${lost} acked but not stored; ${stops} Stops acked, ${sessionsStopped} sessions stopped`);
    return { stored: rows.rowCount ?? 0, lost, stopsAcked: stops, sessionsStopped };
  } catch (err) {
    log(`accounting check failed (schema changed?): ${(err as Error).message}`);
    return null;
  } finally {
    await client.end();
  }
}
