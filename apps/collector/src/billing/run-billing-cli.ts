// One billing run from the command line, outside the collector and its scheduler:
//   node --import tsx src/billing/run-billing-cli.ts <databaseUrl> 2026-12-01 [chunkSize]
// (the URL is an argument because only src/env.ts reads the environment; use a URL without
// a password - PGPASSFILE / peer auth - since arguments are visible in `ps`).
// Prints the result as one JSON line. Exit 0 done, 1 failed, 75 (EX_TEMPFAIL) when another
// run of the period holds the lock. Used by the SIGKILL crash test; operators can use it
// to bill a period by hand (resumes an interrupted run like the scheduler does).
import pg from "pg";
import { BillingRunBusyError, runBilling } from "./billing-run";

async function main(): Promise<number> {
  const [url, periodStart, chunk] = process.argv.slice(2);
  if (!url || !periodStart || !/^\d{4}-\d{2}-01$/.test(periodStart)) {
    console.error("usage: run-billing-cli.ts <databaseUrl> <YYYY-MM-01> [chunkSize]");
    return 2;
  }
  const chunkSize = chunk === undefined ? undefined : Number(chunk);
  if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 10_000)) {
    console.error(`chunkSize must be an integer 1..10000, got ${chunk}`);
    return 2;
  }
  // application_name: a `?application_name=` in the URL wins.
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: "isp-billing-cli" });
  try {
    const r = await runBilling(pool, { periodStart, config: chunkSize === undefined ? {} : { chunkSize } });
    console.log(JSON.stringify(r));
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return err instanceof BillingRunBusyError ? 75 : 1;
  } finally {
    await pool.end();
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
