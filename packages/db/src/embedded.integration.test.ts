import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./embedded";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe("embedded PostgreSQL", () => {
  const parent = mkdtempSync(join(tmpdir(), "isp-embedded-"));
  const dataDir = join(parent, "pg");
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it("keeps data across a restart and survives a stale postmaster.pid", { timeout: 180_000 }, async () => {
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port });
    try {
      expect(first.url).toMatch(/\/isp$/);
      await withClient(first.url, async (c) => {
        await c.query("CREATE TABLE kept (note text)");
        await c.query("INSERT INTO kept VALUES ('salaam')");
      });
    } finally {
      await first.stop();
    }
    // What a crash leaves behind: a pid file naming a process that no longer exists.
    writeFileSync(join(dataDir, "postmaster.pid"), `999999\n${dataDir}\n`);
    const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    try {
      const rows = await withClient(second.url, async (c) => (await c.query("SELECT note FROM kept")).rows);
      expect(rows).toEqual([{ note: "salaam" }]);
      const version = await withClient(second.url, async (c) => (await c.query("SHOW server_version_num")).rows[0]);
      expect(Number((version as { server_version_num: string }).server_version_num)).toBeGreaterThanOrEqual(180000);
    } finally {
      await second.stop();
    }
  });
});
