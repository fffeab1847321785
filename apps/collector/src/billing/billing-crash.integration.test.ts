// A real crash in the middle of a billing run: the run is a child process (tsx
// run-billing-cli.ts) against its own PostgreSQL database, SIGKILLed once some chunks have
// committed (and, most likely, with a chunk's transaction open), then started again. The
// result must equal an uninterrupted run on an identical copy of the database.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase, testAdminUrl, withDatabase } from "@isp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBilling } from "./billing-run";

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, "run-billing-cli.ts");
const subscribers = 3000;
const chunkSize = 40;
const period = "2026-12-01";
const childApp = "billing-crash-child";

interface Child {
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(): void;
}

function startRun(url: string): Child {
  // `node --import tsx` rather than the tsx binary: one process, so SIGKILL hits the run
  // itself (the tsx binary runs the script in a grandchild that would outlive the kill).
  const u = new URL(url);
  u.searchParams.set("application_name", childApp);
  const child = spawn(process.execPath, ["--import", "tsx", cli, u.toString(), period, String(chunkSize)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { exit, kill: () => child.kill("SIGKILL") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a billing run leaves behind, per subscriber, comparable across databases. */
async function snapshot(pool: pg.Pool) {
  const invoices = await pool.query(
    `SELECT subscriber_id, number, series, seq, kind::text, period_start::text, period_end::text, issued_on::text, due_date::text,
            net_paisa::text, tax_paisa::text, total_paisa::text, status::text,
            (SELECT json_agg(json_build_object('p', position, 'd', description, 'n', net_paisa::text, 't', total_paisa::text) ORDER BY position)
               FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines
     FROM invoices i ORDER BY subscriber_id, period_start, kind`,
  );
  const ledger = await pool.query(
    `SELECT t.key, t.kind, t.subscriber_id, t.occurred_on::text,
            json_agg(json_build_object('a', e.account, 'p', e.amount_paisa::text) ORDER BY e.account, e.amount_paisa) AS entries
     FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id GROUP BY t.id ORDER BY t.key`,
  );
  const counters = await pool.query(`SELECT series, last_seq FROM invoice_counters ORDER BY series`);
  return { invoices: invoices.rows, ledger: ledger.rows, counters: counters.rows };
}

describe("billing run killed with SIGKILL mid-run", () => {
  let db: TestDatabase;
  let copyUrl: string;
  let crashed: pg.Pool;
  let reference: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.prisma, { subscribers: 200 });
    await db.prisma.$disconnect();
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    // The same plans/cities/statuses mix, multiplied (Prisma seeding is ~2.6 s per 1,000).
    await setup.query(
      `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, dealer_id, plan_id, status, pppoe_username, pppoe_password, created_at)
       SELECT s.account_no || '-' || g, s.name, s.phone, s.cnic, s.address, s.city, s.dealer_id, s.plan_id, s.status, s.pppoe_username || '-' || g, s.pppoe_password, s.created_at
       FROM generate_series(1, $1::int) g CROSS JOIN subscribers s ORDER BY g, s.id LIMIT $2`,
      [Math.ceil(subscribers / 200), subscribers - 200],
    );
    // Activated well before the period: full-month invoices only.
    await setup.query(`UPDATE subscribers SET created_at = '2026-06-15T10:00:00+05'`);
    await setup.end();
    // An identical database for the uninterrupted run (CREATE DATABASE … TEMPLATE needs no other session on it).
    const admin = new pg.Client({ connectionString: testAdminUrl() });
    await admin.connect();
    const copy = `${new URL(db.url).pathname.slice(1)}_ref`;
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [new URL(db.url).pathname.slice(1)]);
    await admin.query(`CREATE DATABASE "${copy}" TEMPLATE "${new URL(db.url).pathname.slice(1)}"`);
    await admin.end();
    copyUrl = withDatabase(testAdminUrl(), copy);
    crashed = new pg.Pool({ connectionString: db.url, max: 2 });
    reference = new pg.Pool({ connectionString: copyUrl, max: 2 });
    crashed.on("error", () => undefined);
    reference.on("error", () => undefined);
  }, 120_000);

  afterAll(async () => {
    await crashed?.end();
    await reference?.end();
    if (copyUrl) {
      const admin = new pg.Client({ connectionString: testAdminUrl() });
      await admin.connect();
      const name = new URL(copyUrl).pathname.slice(1);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
    await db?.drop();
  });

  it("kill -9, restart: same invoices, numbers, totals and ledger as an uninterrupted run", async () => {
    const ref = await runBilling(reference, { periodStart: period, config: { chunkSize } });
    const billable = ref.created;
    expect(billable).toBeGreaterThan(2500);

    const first = startRun(db.url);
    // Kill once a few chunks have committed (well before the end).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const atKill = (await crashed.query<{ n: number }>(`SELECT count(*)::int AS n FROM invoices`)).rows[0]!.n;
      if (atKill >= chunkSize * 5) break;
      if (Date.now() > deadline) throw new Error("the child run made no progress in 60 s");
      await sleep(5);
    }
    first.kill();
    const killed = await first.exit;
    expect(killed.signal).toBe("SIGKILL");
    // Died mid-run: the run row is still 'running' (nothing could mark it failed) and work is left.
    const [midRun] = (await crashed.query<{ status: string; processed: number; n: number }>(
      `SELECT status::text, processed, (SELECT count(*)::int FROM invoices) AS n FROM billing_runs WHERE kind = 'billing'`,
    )).rows;
    expect(midRun?.status).toBe("running");
    expect(midRun!.n).toBeLessThan(billable);
    expect(midRun!.n % chunkSize === 0 || midRun!.n === midRun!.processed).toBe(true); // whole chunks only

    // The killed session's backend may outlive the process for a moment (it holds the run's
    // advisory lock); the restart waits for it rather than failing "already running".
    for (let i = 0; ; i++) {
      const r = await crashed.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [childApp]);
      if (r.rowCount === 0) break;
      if (i > 500) throw new Error("the killed run's backend did not go away");
      await sleep(20);
    }
    const second = await startRun(db.url).exit;
    expect(second.stderr).not.toMatch(/failed|Error/);
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout.trim().split("\n").pop()!) as { resumed: boolean; created: number; processed: number };
    expect(result.resumed).toBe(true);
    expect(result.created).toBe(billable); // the run row counts both attempts
    expect(result.processed).toBe(billable);

    const [a, b] = await Promise.all([snapshot(crashed), snapshot(reference)]);
    expect(a.invoices.length).toBe(billable);
    expect(a.invoices).toEqual(b.invoices);
    expect(a.ledger).toEqual(b.ledger);
    expect(a.counters).toEqual(b.counters);

    // Independent of the reference: no invoice twice, gap-free numbers per series, balanced ledger.
    const checks = await crashed.query<{ n: number; subs: number; gaps: number; unbalanced: number; inv: string; rec: string; runs: string }>(
      `SELECT (SELECT count(*)::int FROM invoices) AS n,
              (SELECT count(DISTINCT (subscriber_id, period_start, kind))::int FROM invoices) AS subs,
              (SELECT count(*)::int FROM (SELECT series FROM invoices GROUP BY series HAVING max(seq) - min(seq) + 1 <> count(*) OR min(seq) <> 1) g) AS gaps,
              (SELECT count(*)::int FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_paisa) <> 0) u) AS unbalanced,
              (SELECT sum(total_paisa)::text FROM invoices) AS inv,
              (SELECT sum(amount_paisa)::text FROM ledger_entries WHERE account LIKE 'receivable:%') AS rec,
              (SELECT string_agg(status::text || '/' || processed || '/' || created, ',' ORDER BY id) FROM billing_runs) AS runs`,
    );
    expect(checks.rows[0]).toEqual({ n: billable, subs: billable, gaps: 0, unbalanced: 0, inv: checks.rows[0]!.rec, rec: checks.rows[0]!.inv, runs: `completed/${billable}/${billable}` });
  }, 120_000);
});
