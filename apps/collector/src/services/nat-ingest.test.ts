// The ingest's queue, classification and spool logic with an in-memory database stand-in
// (the PostgreSQL path is in nat-ingest.integration.test.ts).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createNatIngest, type NatIngestConfig } from "./nat-ingest";
import { createSessionIndex, type SessionIndex } from "./nat-resolver";
import { openNatSpool, type NatSpool } from "./nat-spool";
import type { NatDb, NatLogRow, NatQuarantineRow } from "./nat-store";

const samplesDir = join(dirname(createRequire(import.meta.url).resolve("@isp/network/nat/parse")), "samples");
const sample = (name: string) => readFileSync(join(samplesDir, name), "utf8").split("\n").filter((l) => l.length > 0);

class MemoryDb implements NatDb {
  rows: NatLogRow[] = [];
  quarantine: NatQuarantineRow[] = [];
  up = true;
  writes = 0;
  /** Refuses batches that hold nat_log rows, as PostgreSQL refuses bad data (SQLSTATE 22xxx). */
  refuseRows = false;
  async write(rows: readonly NatLogRow[], quarantine: readonly NatQuarantineRow[]) {
    await new Promise((r) => setImmediate(r));
    if (!this.up) throw new Error("connect ECONNREFUSED");
    if (this.refuseRows && rows.length > 0) throw Object.assign(new Error("invalid input syntax for type inet"), { code: "22P02" });
    this.writes++;
    this.rows.push(...rows);
    this.quarantine.push(...quarantine);
  }
  async sessionAt() {
    if (!this.up) throw new Error("connect ECONNREFUSED");
    return null;
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(opts: { config?: Partial<NatIngestConfig>; spool?: NatSpool | null; index?: SessionIndex } = {}) {
  const db = new MemoryDb();
  const ingest = createNatIngest({
    db,
    index: opts.index ?? createSessionIndex(),
    spool: opts.spool ?? null,
    routerIdFor: (ip) => (ip === "192.0.2.1" ? 5 : null),
    subscriberIdFor: (u) => ({ "ahmed.khan": 11, sana_r: 12 })[u] ?? null,
    log: silentLogger,
    config: { flushIntervalMs: 5, retryMs: 20, logEveryMs: 0, ...opts.config },
  });
  ingest.start();
  return { db, ingest };
}

const receivedAt = new Date("2026-11-24T05:20:00Z");

describe("NAT ingest", () => {
  it("stores NAT lines with router and subscriber, quarantines bad ones with the reason, counts non-NAT as skipped", async () => {
    const index = createSessionIndex();
    // 10.0.10.91 (bilal, no such username in the cache) held by session B-1 of subscriber 13.
    index.observe("10.0.10.91", { routerId: 5, acctSessionId: "B-1", subscriberId: 13, start: new Date("2026-11-24T05:00:00Z"), stop: null });
    const { db, ingest } = setup({ index });
    const good = sample("mikrotik.log");
    const bad = sample("malformed.log");
    for (const l of good) ingest.offer(l, "192.0.2.1", receivedAt, "udp");
    for (const l of bad) ingest.offer(l, "198.51.100.1", receivedAt, "tcp");
    ingest.reject("50 <13>cut", "198.51.100.1", receivedAt, "tcp_truncated_frame");
    await ingest.flush();

    expect(db.rows).toHaveLength(good.length);
    const c = ingest.counters;
    expect(c).toMatchObject({ received: good.length + bad.length + 1, stored: good.length, quarantined: 9, skipped: 6, dropped: 0 });
    expect(c.skippedByReason).toEqual({ not_nat: 5, not_srcnat: 1 });
    expect(c.quarantinedByReason).toEqual({ nat_malformed: 4, nat_invalid_ip: 2, nat_invalid_port: 2, tcp_truncated_frame: 1 });
    expect(c.received).toBe(c.stored + c.quarantined + c.skipped + c.dropped);

    const first = db.rows[0]!;
    expect(first).toMatchObject({ routerId: 5, sourceIp: "192.0.2.1", privateIp: "10.0.10.76", privatePort: 61127, publicIp: "203.0.113.10", subscriberId: 11, pppoeUser: "ahmed.khan" });
    expect(first.time.toISOString()).toBe("2026-11-24T05:15:01.000Z"); // PKT wall clock to UTC
    expect(db.rows[1]).toMatchObject({ privateIp: "10.0.10.91", subscriberId: 13, acctSessionId: "B-1" });
    expect(db.rows.find((r) => r.pppoeUser === "kamran")?.subscriberId).toBeNull();
    expect(db.quarantine.find((q) => q.reason === "nat_invalid_ip")?.raw).toContain("10.0.10.256");
    expect(db.quarantine.every((q) => q.sourceIp === "198.51.100.1")).toBe(true);
    await ingest.stop();
  });

  it("UDP beyond the queue bound is dropped and counted; TCP is always taken and told to pause, then drained", async () => {
    const { db, ingest } = setup({ config: { queueLinesMax: 10, batchLinesMax: 5, flushIntervalMs: 10_000 } });
    db.up = false; // nothing drains until the database is back
    const line = sample("mikrotik.log")[0]!;
    const udp = Array.from({ length: 25 }, () => ingest.offer(line, "192.0.2.1", receivedAt, "udp"));
    // Two batches of 5 were built (and are held); the queue still takes up to 10 lines in memory.
    await ingest.flush();
    expect(ingest.queuedLines).toBeLessThanOrEqual(10);
    expect(udp.filter((x) => !x).length).toBe(ingest.counters.droppedByReason.udp_queue_full);
    expect(ingest.counters.dropped).toBeGreaterThan(0);
    let drained = 0;
    ingest.onDrain(() => drained++);
    const tcp = Array.from({ length: 5 }, () => ingest.offer(line, "192.0.2.1", receivedAt, "tcp"));
    expect(tcp.every((x) => x === false)).toBe(true);
    expect(ingest.queuedLines).toBeGreaterThan(10); // taken all the same
    db.up = true;
    await new Promise((r) => setTimeout(r, 60));
    await ingest.flush();
    expect(drained).toBeGreaterThan(0);
    expect(ingest.queuedLines).toBe(0);
    const c = ingest.counters;
    expect(db.rows.length).toBe(c.stored);
    expect(c.received).toBe(30);
    expect(c.stored + c.dropped).toBe(30);
    await ingest.stop();
  });

  it("spools while the database is down and replays in order, each line stored once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nat-ingest-"));
    dirs.push(dir);
    const spool = await openNatSpool(dir, 1 << 24);
    const { db, ingest } = setup({ spool, config: { batchLinesMax: 4 } });
    const template = sample("mikrotik.log")[1]!; // UDP 10.0.10.91:53012
    const line = (i: number) => template.replace("10.0.10.91:53012->8.8.8.8:53, NAT (10.0.10.91:53012", `10.0.10.91:${10000 + i}->8.8.8.8:53, NAT (10.0.10.91:${10000 + i}`);
    let i = 0;
    for (; i < 10; i++) ingest.offer(line(i), "192.0.2.1", receivedAt, "tcp");
    await ingest.flush();
    db.up = false;
    for (; i < 30; i++) ingest.offer(line(i), "192.0.2.1", receivedAt, "tcp");
    await ingest.flush();
    expect(ingest.spooledBatches).toBeGreaterThan(0);
    expect(ingest.counters.spooled).toBe(20);
    // Lines that arrive while the spool is not empty go behind it, even once the database is back.
    db.up = true;
    for (; i < 35; i++) ingest.offer(line(i), "192.0.2.1", receivedAt, "tcp");
    await new Promise((r) => setTimeout(r, 30));
    await ingest.flush();
    expect(ingest.spooledBatches).toBe(0);
    expect(db.rows.map((r) => r.privatePort! - 10000)).toEqual(Array.from({ length: 35 }, (_, k) => k));
    const c = ingest.counters;
    expect(c).toMatchObject({ received: 35, stored: 35, dropped: 0, outages: 1 });
    expect(c.spooled).toBeGreaterThanOrEqual(20);
    expect(c.replayed).toBe(c.spooled);
    await ingest.stop();
    await spool.close();
  });

  it("stop() spools what the database does not take, and a new ingest replays it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nat-ingest-"));
    dirs.push(dir);
    const spool = await openNatSpool(dir, 1 << 24);
    const a = setup({ spool, config: { flushIntervalMs: 10_000 } });
    a.db.up = false;
    for (const l of sample("mikrotik.log")) a.ingest.offer(l, "192.0.2.1", receivedAt, "udp");
    await a.ingest.stop();
    expect(a.ingest.queuedLines).toBe(0);
    expect(a.db.rows).toHaveLength(0);
    expect(a.ingest.counters.spooled).toBe(7);
    await spool.close();

    const again = await openNatSpool(dir, 1 << 24);
    expect(again.pendingBatches).toBe(1);
    const b = setup({ spool: again });
    await b.ingest.flush();
    expect(b.db.rows).toHaveLength(7);
    expect(b.ingest.counters).toMatchObject({ replayed: 7, stored: 7 });
    await b.ingest.stop();
    await again.close();
  });

  it("a batch the database refuses for its content is quarantined as JSON, not retried forever", async () => {
    const { db, ingest } = setup();
    db.refuseRows = true;
    const lines = sample("mikrotik.log");
    for (const l of lines) ingest.offer(l, "192.0.2.1", receivedAt, "udp");
    await ingest.flush();
    expect(ingest.queuedLines).toBe(0);
    expect(db.rows).toHaveLength(0);
    expect(db.quarantine).toHaveLength(lines.length);
    expect(db.quarantine.every((q) => q.reason === "store_rejected")).toBe(true);
    expect(JSON.parse(db.quarantine[0]!.raw)).toMatchObject({ privateIp: "10.0.10.76", publicPort: 61127 });
    expect(ingest.counters).toMatchObject({ received: lines.length, stored: 0, quarantined: lines.length, dropped: 0, outages: 0 });
    await ingest.stop();
  });
});
