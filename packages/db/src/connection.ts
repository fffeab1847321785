// Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL kept
// under <repo>/.data/postgres (port EMBEDDED_PG_PORT, default 54320).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "./embedded";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const defaultEmbeddedPort = 54320;
export const defaultEmbeddedDataDir = join(repoRoot, ".data", "postgres");

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export async function resolveDatabaseUrl(
  opts: { dataDir?: string; port?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ResolvedDatabase> {
  const env = opts.env ?? process.env;
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, embedded: false, stop: async () => undefined };
  const port = opts.port ?? (env.EMBEDDED_PG_PORT ? Number(env.EMBEDDED_PG_PORT) : defaultEmbeddedPort);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`EMBEDDED_PG_PORT must be a TCP port, got ${env.EMBEDDED_PG_PORT}`);
  }
  const server = await startEmbeddedPostgres({ dataDir: opts.dataDir ?? defaultEmbeddedDataDir, port });
  return { url: server.url, embedded: true, stop: () => server.stop() };
}
