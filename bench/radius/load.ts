// UDP load generator for RADIUS servers: worker threads, each with a few connected
// sockets and a pre-encoded packet pool (see packets.ts), so the generator spends its
// time in send/receive and not in MD5. `measureCeiling` drives a trivial echo peer to
// show what the generator itself can do on this machine.
import { Worker } from "node:worker_threads";
import type { AcctSession, Credential } from "./packets";
import { histBucketUpperMs, HIST_BUCKETS, type PrepareMessage, type RunMessage, type RunResult } from "./protocol";

const workerUrl = new URL("./worker.ts", import.meta.url).href;
// tsx's loader is per thread and `--import tsx` in a worker's execArgv is not honoured on
// Node 20, so each worker registers it itself before loading worker.ts.
// Resolved here so the worker finds tsx whatever its working directory.
const tsxApi = import.meta.resolve("tsx/esm/api");
const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl)}); });`;

function spawnWorker(role: "generator" | "echo"): Worker {
  return new Worker(bootstrap, { eval: true, workerData: { role } });
}

export interface Target {
  host: string;
  port: number;
  secret: string;
  nasIp: string;
}

export interface LoadSummary {
  sent: number;
  answered: number;
  accepts: number;
  rejects: number;
  acctResponses: number;
  otherCodes: number;
  timeouts: number;
  stray: number;
  maxBacklog: number;
  /** Answers per second inside the sending period. */
  perSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Accounting: acked flags per worker, in that worker's pool order. */
  acked: Uint8Array[];
}

export interface RunOptions {
  mode: "closed" | "paced";
  /** Paced: requests per second over all threads. */
  rate?: number;
  /** Outstanding requests over all threads. */
  window: number;
  seconds: number;
  timeoutMs?: number;
  /** Stop after this many requests over all threads. */
  maxPackets?: number;
}

function waitFor<T>(w: Worker, type: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      w.off("message", onMessage);
      w.off("error", reject);
      resolve(m as T);
    };
    w.on("message", onMessage);
    w.once("error", reject);
  });
}

/** Nearest-rank percentile of a latency histogram, in ms (bucket upper edge). */
export function histPercentileMs(hist: Uint32Array, p: number): number {
  let total = 0;
  for (const c of hist) total += c;
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return histBucketUpperMs(i);
  }
  return histBucketUpperMs(hist.length - 1);
}

export class LoadGenerator {
  private readonly workers: Worker[];
  private readonly socketsPerThread: number;

  constructor(opts: { threads: number; socketsPerThread?: number }) {
    this.socketsPerThread = opts.socketsPerThread ?? 4;
    this.workers = Array.from({ length: opts.threads }, () => spawnWorker("generator"));
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Access-Requests for `credentials` (one packet each), split round-robin over the threads. */
  async prepareAuth(target: Target, credentials: Credential[]): Promise<number> {
    const n = this.workers.length;
    const counts = await Promise.all(
      this.workers.map((w, t) => {
        const mine = credentials.filter((_, i) => i % n === t);
        const msg: PrepareMessage = { type: "prepare", kind: "auth", ...target, sockets: this.socketsPerThread, credentials: mine, portBase: t * 1_000_000 };
        const done = waitFor<{ packets: number }>(w, "prepared");
        w.postMessage(msg);
        return done;
      }),
    );
    return counts.reduce((s, c) => s + c.packets, 0);
  }

  /** Accounting sessions, split so each session's records go out from one thread in order. Returns each thread's sessions. */
  async prepareAcct(target: Target, sessions: AcctSession[], interims: number): Promise<AcctSession[][]> {
    const n = this.workers.length;
    const split = this.workers.map((_, t) => sessions.filter((_, i) => i % n === t));
    await Promise.all(
      this.workers.map((w, t) => {
        const msg: PrepareMessage = { type: "prepare", kind: "acct", ...target, sockets: this.socketsPerThread, sessions: split[t]!, interims };
        const done = waitFor(w, "prepared");
        w.postMessage(msg);
        return done;
      }),
    );
    return split;
  }

  async run(opts: RunOptions): Promise<LoadSummary> {
    const n = this.workers.length;
    const perThread = (x: number) => Math.max(1, Math.floor(x / n));
    const results = await Promise.all(
      this.workers.map((w) => {
        const msg: RunMessage = {
          type: "run",
          mode: opts.mode,
          rate: (opts.rate ?? 0) / n,
          window: Math.min(perThread(opts.window), this.socketsPerThread * 256),
          seconds: opts.seconds,
          timeoutMs: opts.timeoutMs ?? 1000,
          maxPackets: opts.maxPackets === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(opts.maxPackets / n),
        };
        const done = waitFor<{ result: RunResult }>(w, "result");
        w.postMessage(msg);
        return done.then((m) => m.result);
      }),
    );
    const hist = new Uint32Array(HIST_BUCKETS);
    const sum = (k: keyof Omit<RunResult, "hist" | "acked">) => results.reduce((s, r) => s + r[k], 0);
    for (const r of results) for (let i = 0; i < HIST_BUCKETS; i++) hist[i]! += r.hist[i]!;
    const periodMs = Math.max(...results.map((r) => r.periodMs));
    return {
      sent: sum("sent"),
      answered: sum("answered"),
      accepts: sum("accepts"),
      rejects: sum("rejects"),
      acctResponses: sum("acctResponses"),
      otherCodes: sum("otherCodes"),
      timeouts: sum("timeouts"),
      stray: sum("stray"),
      maxBacklog: sum("maxBacklog"),
      perSecond: periodMs > 0 ? (sum("answeredInPeriod") * 1000) / periodMs : 0,
      p50Ms: histPercentileMs(hist, 50),
      p90Ms: histPercentileMs(hist, 90),
      p99Ms: histPercentileMs(hist, 99),
      maxMs: histPercentileMs(hist, 100),
      acked: results.map((r) => r.acked ?? new Uint8Array(0)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** A UDP echo peer on a thread of its own; answers every datagram with itself. */
export async function startEchoPeer(): Promise<{ port: number; stop(): Promise<void> }> {
  const w = spawnWorker("echo");
  const { port } = await waitFor<{ port: number }>(w, "echo-ready");
  return { port, stop: async () => void (await w.terminate()) };
}

/**
 * The generator's own ceiling: closed loop against the echo peer (which shares the two
 * cores, so this is a lower bound of what the generator alone could send), then a paced
 * run whose p99 is the generator's own latency floor.
 */
export async function measureCeiling(opts: {
  threads: number;
  seconds: number;
  window: number;
  credentials: Credential[];
}): Promise<{ saturated: LoadSummary; paced: LoadSummary }> {
  const echo = await startEchoPeer();
  const gen = new LoadGenerator({ threads: opts.threads });
  try {
    await gen.prepareAuth({ host: "127.0.0.1", port: echo.port, secret: "echo", nasIp: "127.0.0.1" }, opts.credentials);
    const saturated = await gen.run({ mode: "closed", window: opts.window, seconds: opts.seconds });
    // At the auth goal's rate (or a third of the ceiling if lower): the latency the generator adds by itself.
    const paced = await gen.run({ mode: "paced", rate: Math.min(10_000, Math.round(saturated.perSecond / 3)), window: 2048, seconds: opts.seconds });
    return { saturated, paced };
  } finally {
    await gen.close();
    await echo.stop();
  }
}
