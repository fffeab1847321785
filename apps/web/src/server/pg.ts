import "server-only";
import pg from "pg";
import { env } from "../env";

// Raw SQL for the time-series tables (nat_log, sessions) that Prisma does not model.
// A few connections are plenty: these are officers' lookups, not traffic.
const poolMax = 4;
const idleTimeoutMs = 30_000;
const connectTimeoutMs = 5_000;
// A lookup that runs longer than this is a missing index, not a slow answer worth waiting for.
const statementTimeoutMs = 20_000;

const globalForPg = globalThis as unknown as { ispPgPool?: pg.Pool };

export function pgPool(): pg.Pool {
  if (globalForPg.ispPgPool) return globalForPg.ispPgPool;
  if (!env.databaseUrl) throw new Error("DATABASE_URL is required to serve the web app");
  const pool = new pg.Pool({
    connectionString: env.databaseUrl,
    max: poolMax,
    idleTimeoutMillis: idleTimeoutMs,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    application_name: "isp-web",
  });
  // An idle client losing its connection must not take the server down.
  pool.on("error", (err) => console.error("[web] pg pool:", err.message));
  globalForPg.ispPgPool = pool;
  return pool;
}
