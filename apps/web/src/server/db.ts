import "server-only";
import { createPrisma } from "@isp/db/client";
import { env } from "../env";

type Prisma = ReturnType<typeof createPrisma>;

// One client per server process; the global survives Next's dev-mode module reloads,
// which would otherwise open a new pool on every edit.
const globalForPrisma = globalThis as unknown as { ispPrisma?: Prisma };

export function db(): Prisma {
  if (globalForPrisma.ispPrisma) return globalForPrisma.ispPrisma;
  if (!env.databaseUrl) throw new Error("DATABASE_URL is required to serve the web app");
  globalForPrisma.ispPrisma = createPrisma(env.databaseUrl);
  return globalForPrisma.ispPrisma;
}
