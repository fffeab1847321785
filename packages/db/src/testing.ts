// Per-test-file databases on the server named by TEST_DATABASE_URL (an admin URL).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPrisma, type PrismaClient } from "./client";
import { migrate as runMigrate } from "./migrate";
import type { TimeseriesFlavour } from "./timeseries";

export interface TestDatabase {
  url: string;
  /** Created on first access; disconnected by drop(). */
  readonly prisma: PrismaClient;
  flavour: TimeseriesFlavour | null;
  drop(): Promise<void>;
}

export function testAdminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      "TEST_DATABASE_URL is not set: integration tests need an admin PostgreSQL URL, e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres",
    );
  }
  return url;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createTestDatabase(
  opts: { migrate?: boolean; flavour?: TimeseriesFlavour } = {},
): Promise<TestDatabase> {
  const adminUrl = testAdminUrl();
  const name = `isp_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  let flavour: TimeseriesFlavour | null = null;
  if (opts.migrate !== false) {
    flavour = (await runMigrate(url, opts.flavour ? { flavour: opts.flavour } : {})).flavour;
  }
  let prisma: PrismaClient | undefined;
  return {
    url,
    flavour,
    get prisma() {
      prisma ??= createPrisma(url);
      return prisma;
    },
    async drop() {
      await prisma?.$disconnect();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      } finally {
        await c.end();
      }
    },
  };
}
