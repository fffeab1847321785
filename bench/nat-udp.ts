// The "0 lines lost at 50,000 lines/s over UDP for 60 s" figure of `npm run bench -- nat`:
// the collector runs as the daemon does (`apps/collector/src/main.ts`, a separate process),
// syslog on a free UDP port, and a paced sender on loopback; stored + quarantined rows are
// counted against lines sent once the collector has drained.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import type { Figure } from "./lib";
import { freePort, socketDrops, udpSnmp } from "./radius/collector";
import { stopChild } from "./radius/freeradius";

export interface UdpIngestOptions {
  root: string;
  databaseUrl: string;
  /** Syslog lines to send, cycled. */
  lines: readonly string[];
  ratePerS: number;
  seconds: number;
  log(line: string): void;
}

async function storedRows(client: pg.Client): Promise<number> {
  const r = await client.query<{ n: string }>("SELECT ((SELECT count(*) FROM nat_log) + (SELECT count(*) FROM nat_quarantine))::text AS n");
  return Number(r.rows[0]!.n);
}

export async function measureUdpIngest(opts: UdpIngestOptions): Promise<Figure[]> {
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  const dataDir = mkdtempSync(join(tmpdir(), "nat-udp-bench-"));
  const syslogPort = await freePort(true);
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: join(opts.root, "apps/collector"),
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      RADIUS_HOST: "127.0.0.1",
      RADIUS_AUTH_PORT: String(await freePort(true)),
      RADIUS_ACCT_PORT: String(await freePort(true)),
      LIVE_PORT: String(await freePort(false)),
      SIMULATOR: "off",
      SYSLOG: "on",
      SYSLOG_HOST: "127.0.0.1",
      SYSLOG_UDP_PORT: String(syslogPort),
      SYSLOG_TCP_PORT: "off",
      RECONCILE_INTERVAL_S: "0",
      COLLECTOR_DATA_DIR: dataDir,
      AUTH_SECRET: randomBytes(32).toString("hex"),
      SECRETS_KEY: randomBytes(32).toString("hex"),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const sock = createSocket("udp4");
  try {
    const deadline = Date.now() + 60_000;
    while (!output.some((l) => l.includes(`NAT syslog udp/${syslogPort}`))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`collector did not start its syslog listener:\n${output.slice(-20).join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const before = await storedRows(client);
    const snmpBefore = udpSnmp();
    const buffers = opts.lines.map((l) => Buffer.from(l, "utf8"));
    const total = Math.round(opts.ratePerS * opts.seconds);
    const tickMs = 10;
    opts.log(`UDP ingest: ${total.toLocaleString("en-US")} lines at ${opts.ratePerS.toLocaleString("en-US")}/s to the collector's syslog udp/${syslogPort}`);
    const started = performance.now();
    let sent = 0;
    // Paced by the clock, not by ticks, so a late timer catches up instead of lowering the rate.
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * opts.ratePerS));
      while (sent < due) {
        sock.send(buffers[sent % buffers.length]!, syslogPort, "127.0.0.1");
        sent++;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    const sendSeconds = (performance.now() - started) / 1000;
    // Drained when the count stops moving for 3 s (the ingest flushes every 250 ms).
    let stored = await storedRows(client);
    let stableSince = performance.now();
    while (performance.now() - stableSince < 3_000 && stored - before < sent) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await storedRows(client);
      if (now !== stored) {
        stored = now;
        stableSince = performance.now();
      }
    }
    const drainedSeconds = (performance.now() - started) / 1000;
    const drops = socketDrops(syslogPort);
    const snmpAfter = udpSnmp();
    const got = stored - before;
    opts.log(`UDP ingest: sent ${sent} in ${sendSeconds.toFixed(1)} s, stored+quarantined ${got} after ${drainedSeconds.toFixed(1)} s; socket drops ${drops}`);
    const natLine = output.filter((l) => l.includes("NAT ingest:")).pop();
    if (natLine) opts.log(`collector: ${natLine.replace(/^.*NAT ingest: /, "")}`);
    return [
      { key: "udp_ingest_rate_per_s", value: Math.round(sent / sendSeconds), unit: "/s" },
      { key: "udp_ingest_seconds", value: Math.round(sendSeconds * 10) / 10, unit: "s" },
      { key: "udp_ingest_sent", value: sent, unit: "" },
      { key: "udp_ingest_stored", value: got, unit: "" },
      { key: "udp_ingest_lost", value: sent - got, unit: "" },
      { key: "udp_ingest_socket_drops", value: drops, unit: "" },
      { key: "udp_ingest_rcvbuf_errors", value: snmpAfter.rcvbufErrors - snmpBefore.rcvbufErrors, unit: "" },
    ];
  } finally {
    sock.close();
    await stopChild(child);
    await client.end().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
