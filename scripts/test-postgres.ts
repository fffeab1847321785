// Starts the embedded PostgreSQL for `npm test` and prints its admin URL; stops it on
// SIGTERM. Its data folder is thrown away at each run so every run starts clean.
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { startEmbeddedPostgres } from "@isp/db/embedded";

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const dataDir = join(process.cwd(), ".data", "test-postgres");
rmSync(dataDir, { recursive: true, force: true });
const port = await freePort();
const pg = await startEmbeddedPostgres({ dataDir, port });
const admin = new URL(pg.url);
admin.pathname = "/postgres";
process.stdout.write(`TEST_DATABASE_URL=${admin.toString()}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await pg.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => undefined, 1 << 30);
