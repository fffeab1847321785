// Applies prisma/migrations/*/migration.sql the way `prisma migrate deploy` does (same
// `_prisma_migrations` bookkeeping and advisory lock key), then the time-series SQL.
// Prisma's schema engine is not available here, so this is the migration runner.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { applyTimeseries, type Queryable, type ScriptRunner, type TimeseriesFlavour } from "./timeseries";

export const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "prisma", "migrations");

/** The key `prisma migrate` locks, so this runner and Prisma's exclude each other too. */
export const migrationLockKey = 72707369;

const prismaMigrationsDdl = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function migrationFiles(dir: string = migrationsDir): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

function wrap(client: pg.Client): Queryable & ScriptRunner {
  return {
    query: async <R>(text: string, params?: unknown[]) => {
      const r = await client.query(text, params);
      return { rows: r.rows as R[] };
    },
    runScript: async (sql: string) => {
      // No parameters: pg uses the simple protocol, which accepts several statements.
      await client.query(sql);
    },
  };
}

export async function migrate(
  url: string,
  opts: { dir?: string; flavour?: TimeseriesFlavour } = {},
): Promise<{ applied: string[]; flavour: TimeseriesFlavour }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [migrationLockKey]);
    try {
      await client.query(prismaMigrationsDdl);
      const applied: string[] = [];
      const rows = (
        await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
          `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
        )
      ).rows;
      for (const file of migrationFiles(opts.dir)) {
        const prior = rows.find((r) => r.migration_name === file.name);
        if (prior) {
          if (prior.finished_at === null) {
            throw new MigrationError(
              `migration ${file.name} started but never finished; resolve it (mark rolled back) before migrating again`,
            );
          }
          if (prior.checksum !== file.checksum) {
            throw new MigrationError(
              `migration ${file.name} was modified after it was applied (database checksum ${prior.checksum}, file ${file.checksum}); never edit an applied migration, add a new one`,
            );
          }
          continue;
        }
        await client.query("BEGIN");
        try {
          const id = randomUUID();
          await client.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)`,
            [id, file.checksum, file.name],
          );
          await client.query(file.sql);
          await client.query(
            `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
            [id],
          );
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw new MigrationError(`migration ${file.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(file.name);
      }
      const ts = await applyTimeseries(wrap(client), opts.flavour);
      return { applied: [...applied, ...ts.applied.map((n) => `timeseries/${n}`)], flavour: ts.flavour };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [migrationLockKey]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}
