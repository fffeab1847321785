// The worker hook's queue: only secret-changing kinds, one sync per subscriber however
// often queued, bounded (the overflow is counted and left to the reconciler).
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createSecretSync } from "./secret-sync";

function fakePool() {
  const queries: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const pool = {
    async query(sql: string) {
      queries.push(sql);
      await gate;
      // No local-auth routers: every sync ends after the router list.
      return { rows: [] };
    },
  } as unknown as pg.Pool;
  return { pool, queries, release };
}

describe("secret sync hook", () => {
  it("ignores kinds that change no secret, syncs a subscriber once however often queued, and drops past queueMax", async () => {
    const { pool, queries, release } = fakePool();
    const sync = createSecretSync({ pool, adapterFor: () => null, secretsKey: Buffer.alloc(32), log: silentLogger, config: { queueMax: 2, concurrency: 1 } });
    sync.onAction(1, "kick");
    sync.onAction(1, "throttle");
    sync.onAction(1, "walled_garden_on");
    expect(queries).toHaveLength(0);
    sync.onAction(1, "suspend"); // taken at once (concurrency 1): waits on the router list
    sync.onAction(2, "restore");
    sync.onAction(2, "change_plan"); // already queued: no second sync
    sync.onAction(3, "terminate");
    sync.onAction(4, "suspend"); // queue holds 2 and 3: dropped
    expect(sync.counters.dropped).toBe(1);
    release();
    await sync.idle();
    // The router list is read once and cached: 2 and 3 end there too (no local-auth routers).
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatch(/auth_mode = 'local'/);
    expect(sync.counters.errors).toBe(0);
  });
});
