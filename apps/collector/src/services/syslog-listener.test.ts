// The listener on real loopback sockets, over the real ingest queue; the database side is
// an in-memory stand-in that can refuse writes, so the queue can be made to back up.
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createNatIngest, type NatIngest, type NatIngestConfig } from "./nat-ingest";
import { createSessionIndex } from "./nat-resolver";
import type { NatDb, NatLogRow, NatQuarantineRow } from "./nat-store";
import { createSyslogListener, type SyslogListener, type SyslogListenerConfig } from "./syslog-listener";

class MemoryDb implements NatDb {
  rows: NatLogRow[] = [];
  quarantine: NatQuarantineRow[] = [];
  up = true;
  async write(rows: readonly NatLogRow[], quarantine: readonly NatQuarantineRow[]) {
    await new Promise((r) => setImmediate(r));
    if (!this.up) throw new Error("connect ECONNREFUSED");
    this.rows.push(...rows);
    this.quarantine.push(...quarantine);
  }
  async sessionAt() {
    return null;
  }
}

const line = (i: number) =>
  `<134>Nov 24 10:15:01 router1 firewall,info srcnat: in:<pppoe-u${i}> out:ether1, connection-state:new proto UDP, 10.0.10.91:${10000 + i}->8.8.8.8:53, NAT (10.0.10.91:${10000 + i}->203.0.113.10:${10000 + i})->8.8.8.8:53, len 71`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(ingestConfig: Partial<NatIngestConfig>, listenerConfig: Partial<SyslogListenerConfig> = {}) {
  const db = new MemoryDb();
  const ingest: NatIngest = createNatIngest({
    db,
    index: createSessionIndex(),
    spool: null,
    routerIdFor: () => 1,
    subscriberIdFor: () => null,
    log: silentLogger,
    config: { flushIntervalMs: 5, retryMs: 20, logEveryMs: 0, ...ingestConfig },
  });
  ingest.start();
  const listener: SyslogListener = createSyslogListener({ host: "127.0.0.1", udpPort: 0, tcpPort: 0, ...listenerConfig }, ingest, silentLogger);
  await listener.start();
  cleanup.push(async () => {
    await listener.close();
    await ingest.stop();
  });
  return { db, ingest, listener };
}

const tcpClient = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("syslog listener", () => {
  it("TCP: a backed-up queue pauses the sender instead of dropping; everything arrives once the database is back", async () => {
    const { db, ingest, listener } = await setup({ queueLinesMax: 200, batchLinesMax: 50 });
    db.up = false;
    const client = await tcpClient(listener.ports.tcp!);
    const total = 5000;
    let payload = "";
    for (let i = 0; i < total; i++) payload += `${line(i)}\n`;
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, ingest.queuedLines)), 1);
    client.write(payload);
    await until(() => listener.counters.pauses > 0);
    await new Promise((r) => setTimeout(r, 200));
    // Paused: the kernel buffers hold the rest; the queue stays near its bound.
    expect(ingest.counters.received).toBeLessThan(total);
    db.up = true;
    await until(() => db.rows.length === total);
    clearInterval(watch);
    client.end();
    // One 64 KiB read past the bound at most (~430 of these lines).
    expect(peak).toBeLessThan(200 + 500);
    expect(ingest.counters).toMatchObject({ received: total, stored: total, dropped: 0 });
    expect(new Set(db.rows.map((r) => r.privatePort)).size).toBe(total);
  });

  it.each([
    ["a worker thread", true],
    ["the main thread", false],
  ])("UDP on %s: beyond the queue bound datagrams are dropped and counted, never lost silently", async (_, udpWorker) => {
    const { db, ingest, listener } = await setup({ queueLinesMax: 100, batchLinesMax: 50 }, { udpWorker });
    db.up = false;
    const sock = createSocket("udp4");
    cleanup.push(async () => void sock.close());
    const total = 400;
    for (let i = 0; i < total; i++) sock.send(line(i), listener.ports.udp!, "127.0.0.1");
    await until(() => listener.counters.udpDatagrams === total);
    expect(ingest.counters.droppedByReason.udp_queue_full).toBeGreaterThan(0);
    db.up = true;
    await until(() => ingest.queuedLines === 0 && db.rows.length === ingest.counters.stored && ingest.counters.stored > 0);
    const c = ingest.counters;
    expect(c.received).toBe(total);
    expect(c.stored + c.dropped).toBe(total);
  });

  it("TCP: connections beyond the bound are refused and counted; octet framing errors quarantine and close", async () => {
    const { db, ingest, listener } = await setup({}, { tcpConnectionsMax: 2 });
    const a = await tcpClient(listener.ports.tcp!);
    const b = await tcpClient(listener.ports.tcp!);
    await until(() => listener.connections === 2);
    const c = await tcpClient(listener.ports.tcp!);
    const closed = new Promise<void>((r) => c.on("close", () => r()));
    c.on("error", () => undefined);
    await closed;
    expect(listener.counters.tcpConnectionsRefused).toBe(1);

    const good = line(1);
    const aClosed = new Promise<void>((r) => a.on("close", () => r()));
    a.on("error", () => undefined);
    a.write(`${Buffer.byteLength(good)} ${good}12x oops`);
    await aClosed;
    b.write(`${line(2)}\n${line(3)}\n`);
    b.end();
    await until(() => db.rows.length === 3 && db.quarantine.length === 1);
    expect(db.quarantine[0]).toMatchObject({ reason: "tcp_framing_bad_length", raw: "12x oops", sourceIp: "127.0.0.1" });
    expect(listener.counters.framingErrors).toBe(1);
    expect(ingest.counters).toMatchObject({ received: 4, stored: 3, quarantined: 1 });
  });
});
