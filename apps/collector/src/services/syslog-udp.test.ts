// The UDP receiver thread on real loopback sockets: datagrams arrive in order with their
// sender and receive time, over-long ones are cut, and when the main thread is busy the
// hand-off stays within its bound and every datagram it could not take is counted.
import { spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createNatIngest } from "./nat-ingest";
import { createSessionIndex } from "./nat-resolver";
import type { NatDb } from "./nat-store";
import { createSyslogListener } from "./syslog-listener";
import { createUdpReceiver, kernelDrops, type UdpReceiverConfig } from "./syslog-udp";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function until(cond: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Bytes waiting in the kernel's receive queue of our socket (/proc/net/udp rx_queue). */
function receiveQueueBytes(localPort: number): number | null {
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (!local || Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== localPort) continue;
    return Number.parseInt(f[4]!.split(":")[1]!, 16);
  }
  return null;
}

const config = (over: Partial<UdpReceiverConfig> = {}): UdpReceiverConfig => ({
  host: "127.0.0.1",
  port: 0,
  recvBufferBytes: 4 * 1024 * 1024,
  datagramBytesMax: 100,
  batchDatagramsMax: 64,
  batchMs: 5,
  handoffDatagramsMax: 10_000,
  ...over,
});

async function sender(): Promise<Socket> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  cleanup.push(async () => void s.close());
  return s;
}

/** Sends `total` numbered datagrams from another process, once `go` is written to its stdin. */
function externalSender(port: number, total: number) {
  const script = `
    const s = require("node:dgram").createSocket("udp4");
    s.connect(${port}, "127.0.0.1", () => {
      process.stdout.write("ready\\n");
      process.stdin.once("data", () => {
        let i = 0;
        const burst = () => {
          for (let n = 0; n < 200 && i < ${total}; n++, i++) s.send("line " + i);
          if (i < ${total}) setImmediate(burst);
          else setTimeout(() => { process.stdout.write("sent\\n"); s.close(); }, 50);
        };
        burst();
      });
    });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  cleanup.push(async () => void child.kill());
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return {
    ready: () => until(() => out.includes("ready")),
    go: () => child.stdin.write("go\n"),
    sent: () => out.includes("sent"),
  };
}

const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // The main thread is stuck (a long batch parse, GC): the worker must keep receiving.
  }
};

describe("syslog UDP receiver thread", () => {
  it("delivers every datagram in order with its sender and receive time; cuts over-long ones", async () => {
    const got: { text: string; from: string; at: number }[] = [];
    const r = createUdpReceiver(config(), { datagram: (text, from, at) => got.push({ text, from, at }), dropped: () => undefined }, silentLogger);
    const { port, recvBufferBytes } = await r.start();
    cleanup.push(() => r.close());
    expect(port).toBeGreaterThan(0);
    expect(recvBufferBytes).toBeGreaterThan(0);

    const s = await sender();
    const before = Date.now();
    const total = 3000;
    const texts = Array.from({ length: total }, (_, i) => (i === 7 ? `ü${"x".repeat(300)}` : `<134>Nov 24 10:15:01 r1 srcnat: ßeq ${i}`));
    for (let i = 0; i < total; i++) {
      s.send(texts[i]!, port, "127.0.0.1");
      if (i % 200 === 199) await new Promise((res) => setImmediate(res));
    }
    await until(() => got.length === total);
    const after = Date.now();
    expect(r.datagrams).toBe(total);
    expect(r.droppedInWorker).toBe(0);
    for (let i = 0; i < total; i++) {
      const g = got[i]!;
      // 100 bytes: "ü" is 2 of them.
      expect(g.text).toBe(i === 7 ? `ü${"x".repeat(98)}` : texts[i]);
      expect(g.from).toBe("127.0.0.1");
      expect(g.at).toBeGreaterThanOrEqual(before);
      expect(g.at).toBeLessThanOrEqual(after);
    }
    expect(kernelDrops(port)).toBe(0);
    await r.close();
    // Closed: the port no longer answers to anything.
    expect(kernelDrops(port)).toBeNull();
  });

  it("restarts a worker that died, on the same port", async () => {
    const got: string[] = [];
    const r = createUdpReceiver(config(), { datagram: (text) => got.push(text), dropped: () => undefined }, silentLogger);
    const { port } = await r.start();
    cleanup.push(() => r.close());
    const s = await sender();
    s.send("before", port, "127.0.0.1");
    await until(() => got.length === 1);
    await r.killWorkerForTests();
    await until(() => r.restarts === 1 && kernelDrops(port) !== null);
    // Bound again: sends until one arrives (the new socket may take a moment to read).
    const end = Date.now() + 10_000;
    while (!got.includes("after") && Date.now() < end) {
      s.send("after", port, "127.0.0.1");
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(got).toContain("after");
  });

  it("counts the datagrams a dying worker had received but not handed over", async () => {
    const got: string[] = [];
    const drops: [number, string][] = [];
    // Batches of 10; a partial batch would wait a minute for its timer.
    const r = createUdpReceiver(
      config({ batchDatagramsMax: 10, batchMs: 60_000 }),
      { datagram: (text) => got.push(text), dropped: (n, reason) => drops.push([n, reason]) },
      silentLogger,
    );
    const { port } = await r.start();
    cleanup.push(() => r.close());
    const s = await sender();
    for (let i = 0; i < 17; i++) s.send(`m${i}`, port, "127.0.0.1");
    await until(() => got.length === 10);
    // The other 7 are in the worker's unsent batch once the socket's queue is empty.
    await until(() => receiveQueueBytes(port) === 0);
    await r.killWorkerForTests();
    await until(() => r.restarts === 1);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(r.lostInWorkerExit).toBe(7);
    expect(drops).toEqual([[7, "worker_exit"]]);
  });

  it("refuses a port already in use with a clear error", async () => {
    const taken = await sender();
    const port = taken.address().port;
    const r = createUdpReceiver(config({ port }), { datagram: () => undefined, dropped: () => undefined }, silentLogger);
    await expect(r.start()).rejects.toThrow(`syslog: cannot listen on udp 127.0.0.1:${port}: bind EADDRINUSE`);
    await r.close();
  });

  it("keeps receiving while the main thread is stuck; the hand-off stays bounded and its drops are counted", async () => {
    let delivered = 0;
    let dropped = 0;
    let firstBlocked = false;
    const r = createUdpReceiver(
      config({ handoffDatagramsMax: 300, batchDatagramsMax: 50 }),
      {
        datagram: () => {
          delivered++;
          if (!firstBlocked) {
            firstBlocked = true;
            busy(800);
          }
        },
        dropped: (n) => (dropped += n),
      },
      silentLogger,
    );
    const { port } = await r.start();
    cleanup.push(() => r.close());
    const total = 5000;
    const ext = externalSender(port, total);
    await ext.ready();
    ext.go();
    await until(() => ext.sent());
    const lostInKernel = kernelDrops(port) ?? 0;
    await until(() => delivered + dropped + lostInKernel === total);
    expect(dropped).toBeGreaterThan(0);
    expect(r.droppedInWorker).toBe(dropped);
    // The stall let at most the hand-off bound (plus the batch being filled) through.
    expect(delivered).toBeLessThan(total);
    expect(lostInKernel).toBe(0);
  });

  it("through the listener: hand-off drops reach the ingest's counters (received = stored + dropped)", async () => {
    const rows: number[] = [];
    const db: NatDb = {
      async write(r) {
        rows.push(r.length);
      },
      async sessionAt() {
        return null;
      },
    };
    const ingest = createNatIngest({
      db,
      index: createSessionIndex(),
      spool: null,
      routerIdFor: () => 1,
      subscriberIdFor: () => null,
      log: silentLogger,
      config: { flushIntervalMs: 5, logEveryMs: 0 },
    });
    ingest.start();
    const listener = createSyslogListener({ host: "127.0.0.1", udpPort: 0, tcpPort: null, udpHandoffDatagramsMax: 200 }, ingest, silentLogger);
    await listener.start();
    cleanup.push(async () => {
      await listener.close();
      await ingest.stop();
    });
    expect(listener.counters.udpRecvBufferBytes).toBeGreaterThan(0);
    const total = 4000;
    const ext = externalSender(listener.ports.udp!, total);
    await ext.ready();
    ext.go();
    busy(600);
    await until(() => ext.sent());
    const lostInKernel = listener.counters.udpKernelDrops ?? 0;
    await until(() => ingest.counters.received + lostInKernel === total && ingest.queuedLines === 0);
    const c = ingest.counters;
    // "line N" is not syslog: every delivered line is quarantined, none stored.
    expect(c.droppedByReason.udp_handoff_full).toBeGreaterThan(0);
    expect(c.quarantined + c.dropped).toBe(c.received);
    expect(listener.counters.udpDatagrams + (c.droppedByReason.udp_handoff_full ?? 0)).toBe(c.received);
    expect(lostInKernel).toBe(0);
  });
});
