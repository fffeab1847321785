// The syslog UDP receiver: a worker thread owns the socket (syslog-udp-worker.ts) and hands
// packed batches of datagrams to this, the main thread, which offers each line to the NAT
// ingest. Why a thread: at 50,000 lines/s a 4 MiB kernel buffer (the stock
// net.core.rmem_max) holds ~0.1 s of traffic, less than the main thread's longer stalls
// (batch parse, COPY encoding, GC); a datagram arriving at a full buffer is lost without a
// counter. The worker drains the socket whatever the main thread does.
//
// Bounds: each batch holds at most `batchDatagramsMax` datagrams and leaves after at most
// `batchMs`; at most `handoffDatagramsMax` datagrams are handed over and not yet offered,
// beyond that the worker drops them and the ingest counts them (udp_handoff_full), like
// the ingest's own queue bound (udp_queue_full).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../log";

export interface UdpWorkerData {
  host: string;
  port: number;
  /**
   * Int32 slot 0: datagrams the worker took off the socket (including those it dropped),
   * wrapping. Shared, so what a crashed worker held (its unsent batch, its unreported
   * drops) can still be counted by the main thread.
   */
  taken: SharedArrayBuffer;
  /** Asked for with SO_RCVBUF; 0 = the kernel default. */
  recvBufferBytes: number;
  datagramBytesMax: number;
  batchDatagramsMax: number;
  batchMs: number;
  handoffDatagramsMax: number;
}

export type UdpWorkerRequest = { type: "ack"; count: number } | { type: "close" };

export type UdpWorkerReply =
  | { type: "listening"; port: number; recvBufferBytes: number }
  | { type: "error"; message: string }
  | { type: "warning"; message: string }
  | {
      type: "batch";
      count: number;
      /** Datagram i is bytes[ends[i-1] .. ends[i]) (from 0 for the first). */
      bytes: ArrayBuffer;
      ends: ArrayBuffer;
      /** Receive time of each datagram, ms since the epoch. */
      times: ArrayBuffer;
      senderOf: ArrayBuffer;
      senders: string[];
      /** Datagrams dropped in the worker since the previous batch (hand-off full). */
      dropped: number;
    }
  | { type: "closed" };

export interface UdpReceiverConfig {
  host: string;
  port: number;
  recvBufferBytes: number;
  datagramBytesMax: number;
  batchDatagramsMax: number;
  batchMs: number;
  handoffDatagramsMax: number;
}

export const defaultUdpReceiverConfig: Omit<UdpReceiverConfig, "host" | "port" | "datagramBytesMax" | "recvBufferBytes"> = {
  batchDatagramsMax: 1024,
  batchMs: 5,
  handoffDatagramsMax: 65_536,
};

export interface UdpDelivery {
  /** One datagram (already cut to datagramBytesMax). */
  datagram(text: string, sourceAddress: string, receivedAtMs: number): void;
  /**
   * Datagrams lost in the worker: "handoff_full" (the main thread was behind), or
   * "worker_exit" (received by a worker that died before handing them over).
   */
  dropped(count: number, reason: "handoff_full" | "worker_exit"): void;
}

export interface UdpReceiver {
  /** Resolves with the bound port and the receive buffer the kernel granted (bytes, as getsockopt reports it). */
  start(): Promise<{ port: number; recvBufferBytes: number }>;
  /** Closes the socket; every datagram already received is delivered before this resolves. */
  close(): Promise<void>;
  readonly datagrams: number;
  readonly droppedInWorker: number;
  /** Datagrams a worker had received but not handed over when it died (counted, then restarted). */
  readonly lostInWorkerExit: number;
  /** Times the worker was restarted after exiting unexpectedly (it is, after 1 s, on the same port). */
  readonly restarts: number;
  /** Terminates the worker as a crash would (tests of the restart). */
  killWorkerForTests(): Promise<void>;
}

/** The worker entry: the .ts file through tsx's loader when running from source, else the .js beside this one. */
function spawn(data: UdpWorkerData): Worker {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self);
  const workerUrl = new URL(`./syslog-udp-worker${ext}`, import.meta.url);
  if (ext !== ".ts") return new Worker(workerUrl, { workerData: data });
  // tsx's loader is per thread, and `--import tsx` in execArgv is not honoured by workers.
  // The ESM entry of tsx/esm/api (require.resolve would give the CommonJS one).
  const tsxPackage = createRequire(import.meta.url).resolve("tsx/package.json");
  const tsxApi = pathToFileURL(join(dirname(tsxPackage), "dist/esm/api/index.mjs")).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/**
 * Datagrams the kernel dropped on our socket (receive buffer full), from /proc/net/udp{,6}
 * (Linux; null elsewhere). These never reached the collector, so no other counter has them.
 */
export function kernelDrops(localPort: number): number | null {
  let found: number | null = null;
  for (const file of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (!local || Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== localPort) continue;
      found = (found ?? 0) + Number(f[f.length - 1]);
    }
  }
  return found;
}

/** What the kernel allows an unprivileged SO_RCVBUF to reach (Linux), or null when unknown. */
export function rmemMax(): number | null {
  try {
    const v = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export function createUdpReceiver(config: UdpReceiverConfig, deliver: UdpDelivery, log: Logger): UdpReceiver {
  let worker: Worker | null = null;
  let datagrams = 0;
  let droppedInWorker = 0;
  let lostInWorkerExit = 0;
  let closed: (() => void) | null = null;
  // Per worker: its shared "taken" counter and what its batches have accounted for
  // (delivered + reported drops), compared when it exits.
  const accounted = new WeakMap<Worker, { taken: Int32Array; handed: number }>();

  const onBatch = (w: Worker, m: Extract<UdpWorkerReply, { type: "batch" }>) => {
    const ends = new Uint32Array(m.ends);
    const times = new Float64Array(m.times);
    const senderOf = new Uint16Array(m.senderOf);
    // One view over the batch; toString(start, end) allocates only the string.
    const buf = Buffer.from(m.bytes);
    let start = 0;
    for (let i = 0; i < m.count; i++) {
      const end = ends[i]!;
      const text = buf.toString("utf8", start, end);
      start = end;
      datagrams++;
      deliver.datagram(text, m.senders[senderOf[i]!] ?? "", times[i]!);
    }
    if (m.dropped > 0) {
      droppedInWorker += m.dropped;
      deliver.dropped(m.dropped, "handoff_full");
    }
    const a = accounted.get(w);
    if (a) a.handed = (a.handed + m.count + m.dropped) | 0;
    w.postMessage({ type: "ack", count: m.count } satisfies UdpWorkerRequest);
  };

  let closing = false;
  let restartTimer: NodeJS.Timeout | null = null;
  let restarts = 0;

  /** Spawns the worker on `port`; resolves once it listens. */
  const launch = (port: number): Promise<{ port: number; recvBufferBytes: number }> => {
    const taken = new SharedArrayBuffer(4);
    const w = spawn({ ...config, port, taken });
    worker = w;
    accounted.set(w, { taken: new Int32Array(taken), handed: 0 });
    return new Promise((resolve, reject) => {
      let listening = false;
      // Restarted on the port actually bound (the configured one may be 0).
      let bound = port;
      w.on("message", (m: UdpWorkerReply) => {
        switch (m.type) {
          case "batch":
            onBatch(w, m);
            break;
          case "listening":
            listening = true;
            bound = m.port;
            resolve({ port: m.port, recvBufferBytes: m.recvBufferBytes });
            break;
          case "error":
            if (!listening) reject(new Error(`syslog: cannot listen on udp ${config.host}:${port}: ${m.message} (set SYSLOG_UDP_PORT, or SYSLOG=off)`));
            void w.terminate();
            break;
          case "warning":
            log.warn("syslog UDP socket error", { error: m.message });
            break;
          case "closed":
            closed?.();
            break;
        }
      });
      w.on("error", (err) => {
        log.error("syslog UDP worker failed", { error: err.message });
        if (!listening) reject(err);
      });
      w.on("exit", (code) => {
        if (worker === w) worker = null;
        if (closed) closed();
        if (!listening) {
          reject(new Error(`syslog UDP worker exited before listening (code ${code})`));
          return;
        }
        if (closing) return;
        // What it had taken off the socket but not handed over (the batch it was filling,
        // batches posted but never delivered, drops not yet reported) is lost with it:
        // counted, then the port is rebound.
        const a = accounted.get(w);
        const lost = a ? Math.max(0, (Atomics.load(a.taken, 0) - a.handed) | 0) : 0;
        if (lost > 0) {
          lostInWorkerExit += lost;
          deliver.dropped(lost, "worker_exit");
        }
        log.error(`syslog UDP worker exited (code ${code}): ${lost} datagrams lost with it; restarting it on udp/${bound} in 1 s`);
        scheduleRestart(bound);
      });
    });
  };

  const scheduleRestart = (port: number) => {
    if (closing || restartTimer) return;
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (closing) return;
      restarts++;
      launch(port).then(
        () => log.info(`syslog UDP worker restarted on udp/${port}`),
        (err: Error) => {
          log.error("syslog UDP worker restart failed; trying again in 1 s", { error: err.message });
          scheduleRestart(port);
        },
      );
    }, 1_000);
    restartTimer.unref();
  };

  return {
    async start() {
      closing = false;
      return launch(config.port);
    },
    async close() {
      closing = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      const w = worker;
      if (!w) return;
      // "closed" comes after the last batch (messages keep their order), so by then every
      // datagram the socket took has been delivered.
      await new Promise<void>((resolve) => {
        // A worker that does not answer (it should within milliseconds) is terminated anyway.
        const deadline = setTimeout(() => {
          log.warn("syslog UDP worker did not close in 5 s: terminating it");
          resolve();
        }, 5_000);
        closed = () => {
          clearTimeout(deadline);
          resolve();
        };
        w.postMessage({ type: "close" } satisfies UdpWorkerRequest);
      });
      worker = null;
      await w.terminate();
    },
    get datagrams() {
      return datagrams;
    },
    get droppedInWorker() {
      return droppedInWorker;
    },
    get lostInWorkerExit() {
      return lostInWorkerExit;
    },
    get restarts() {
      return restarts;
    },
    async killWorkerForTests() {
      await worker?.terminate();
    },
  };
}
