// Runs the collector as the daemon runs in production (`tsx apps/collector/src/main.ts`),
// as a separate process, so the bench measures it over real UDP whatever its internals.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { encodeRequest } from "@isp/network/radius/auth";
import { PacketCode } from "@isp/network/radius/codec";
import { stopChild } from "./freeradius";
import { encodeAccessRequest, type Credential } from "./packets";

export interface RunningCollector {
  pid: number;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export function startCollector(opts: {
  root: string;
  databaseUrl: string;
  authPort: number;
  acctPort: number;
  livePort: number;
  /** The collector's local state (accounting spool): private to this run. */
  dataDir: string;
  /** SECRETS_KEY (64 hex digits): the key the subscribers' passwords were seeded with. */
  secretsKeyHex: string;
  /** With a directory: node --cpu-prof writes the collector's profile there on exit. */
  cpuProfDir?: string;
}): RunningCollector {
  // RADIUS_BENCH_COLLECTOR_NODE_ARGS: extra node flags for the collector (e.g. "--trace-gc --max-semi-space-size=64").
  const extra = (process.env.RADIUS_BENCH_COLLECTOR_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const args = [...extra, ...(opts.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir] : []), "--import", "tsx", "src/main.ts"];
  const child = spawn(process.execPath, args, {
    cwd: join(opts.root, "apps/collector"),
    // The caller's environment passes through, so settings the collector needs (keys, tuning) can be given to the bench.
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      RADIUS_HOST: "127.0.0.1",
      RADIUS_AUTH_PORT: String(opts.authPort),
      RADIUS_ACCT_PORT: String(opts.acctPort),
      LIVE_PORT: String(opts.livePort),
      SIMULATOR: "off",
      SYSLOG: "off",
      COLLECTOR_DATA_DIR: opts.dataDir,
      AUTH_SECRET: process.env.AUTH_SECRET ?? randomBytes(32).toString("hex"),
      SECRETS_KEY: opts.secretsKeyHex,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  const keep = (d: Buffer) => {
    tail.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  // RADIUS_BENCH_COLLECTOR_OUT=<file>: the collector's whole output (e.g. with NODE_OPTIONS=--trace-gc) for diagnosis.
  const outFile = process.env.RADIUS_BENCH_COLLECTOR_OUT;
  if (outFile) {
    const out = createWriteStream(outFile, { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  return {
    pid: child.pid ?? -1,
    output: () => tail.join("\n"),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    // A profiled collector writes its profile only on a clean exit: give a busy one longer.
    stop: () => stopChild(child, opts.cpuProfDir ? 120_000 : 30_000),
  };
}

/** Sends Access-Requests for one subscriber until any answer comes back (the server is up and has its NAS list). */
export async function waitForRadius(opts: {
  host: string;
  port: number;
  secret: string;
  nasIp: string;
  credential: Credential;
  timeoutMs: number;
  alive?: () => boolean;
}): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const deadline = Date.now() + opts.timeoutMs;
  try {
    let id = 0;
    for (;;) {
      if (opts.alive && !opts.alive()) throw new Error("the server exited while starting");
      if (Date.now() > deadline) throw new Error(`no RADIUS answer on ${opts.host}:${opts.port} within ${opts.timeoutMs} ms`);
      const packet = encodeAccessRequest(opts.credential, id++ & 0xff, opts.secret, opts.nasIp, 1);
      const answered = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off("message", onMsg);
          resolve(false);
        }, 500);
        const onMsg = (msg: Buffer) => {
          if (msg[1] !== packet[1]) return;
          clearTimeout(timer);
          socket.off("message", onMsg);
          resolve(true);
        };
        socket.on("message", onMsg);
      });
      socket.send(packet, opts.port, opts.host);
      if (await answered) return;
    }
  } finally {
    socket.close();
  }
}

/**
 * Accounting-On from the NAS (it rebooted): the server closes the NAS's open sessions.
 * Sent before the reconnect storm, as a rebooted BNG does. True when acknowledged.
 */
export async function sendAccountingOn(target: { host: string; port: number; secret: string; nasIp: string }, timeoutMs = 10_000): Promise<boolean> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  try {
    const { raw } = encodeRequest({
      code: PacketCode.AccountingRequest,
      identifier: 1,
      secret: target.secret,
      messageAuthenticator: false,
      attributes: [
        ["Acct-Status-Type", "Accounting-On"],
        ["NAS-IP-Address", target.nasIp],
        ["Acct-Session-Id", "0"],
        ["Acct-Delay-Time", 0],
      ],
    });
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.on("message", (msg) => {
        if (msg[1] !== 1) return;
        clearTimeout(timer);
        resolve(msg[0] === PacketCode.AccountingResponse);
      });
    });
    socket.send(raw, target.port, target.host);
    return await acked;
  } finally {
    socket.close();
  }
}

/** A port free on 127.0.0.1 right now (UDP when `udp`, else TCP). */
export async function freePort(udp: boolean): Promise<number> {
  if (udp) {
    const s = createSocket("udp4");
    await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", () => resolve()));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Kernel UDP counters (/proc/net/snmp): machine-wide. */
export function udpSnmp(): { inErrors: number; rcvbufErrors: number } {
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const get = (n: string) => Number(values[names.indexOf(n)] ?? NaN);
  return { inErrors: get("InErrors"), rcvbufErrors: get("RcvbufErrors") };
}

/** Datagrams the kernel dropped on the UDP socket bound to 127.0.0.1:port (/proc/net/udp "drops"), or NaN. */
export function socketDrops(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex}`)) return Number(f[f.length - 1]);
  }
  return NaN;
}
