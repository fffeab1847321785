// Demo traffic (`npm start` with SIMULATOR=on): one RouterSimulator per router in the
// database, each playing that router (its IP as source address, its CoA port, its
// secret), dialling a share of the active subscribers against our own RADIUS ports.
import type pg from "pg";
import { decryptSecret, type SecretsKeys } from "@isp/db/secrets";
import { DEMO_SUBSCRIBER } from "@isp/db/seed";
import { RouterSimulator } from "@isp/network/simulator";
import { NatSyslogSender } from "@isp/network/simulator/nat-syslog";
import type { Logger } from "../log";

export interface Simulation {
  readonly simulators: RouterSimulator[];
  stop(): Promise<void>;
}

export interface SimulationOptions {
  pool: pg.Pool;
  /** Where the collector listens (the simulators send from the routers' own addresses). */
  serverHost?: string;
  authPort: number;
  acctPort: number;
  /** Subscribers dialled in total, spread over the routers. */
  sessions: number;
  interimIntervalS: number;
  /** All sessions are up after about this long. */
  rampMs: number;
  /** 0 = ephemeral CoA ports (tests); default: each router's coa_port. */
  coaPortOverride?: number;
  /** Redial this long after a disconnect, so the demo wall keeps moving. */
  autoReconnectAfterMs?: number;
  /** To read the subscribers' passwords (the simulator plays their CPEs). */
  secretsKey: SecretsKeys;
  /** Each router also sends srcnat syslog for its sessions to this UDP port (docs/nat-ingest.md). */
  natSyslog?: { host?: string; port: number; linesPerSecondPerRouter: number } | null;
  log: Logger;
}

export async function startSimulation(opts: SimulationOptions): Promise<Simulation> {
  const routers = (
    await opts.pool.query<{ id: number; name: string; ip: string; coa_port: number; radius_secret: string }>(
      "SELECT id, name, host(ip_address) AS ip, coa_port, radius_secret FROM routers WHERE active AND family(ip_address) = 4 AND host(ip_address) LIKE '127.%' ORDER BY id",
    )
  ).rows;
  if (routers.length === 0) {
    opts.log.warn("simulator: no routers on loopback (127.0.0.0/8) to play; nothing to simulate");
    return { simulators: [], stop: async () => undefined };
  }
  const subs = (
    await opts.pool.query<{ username: string; plain: string | null; enc: string | null; mac: string | null }>(
      // The README's demo subscriber is left to the reader's radclient: with simultaneous use 1,
      // a simulated session would get their Access-Request rejected as "Already logged in".
      "SELECT pppoe_username AS username, pppoe_password AS plain, pppoe_password_enc AS enc, mac_address AS mac FROM subscribers WHERE status = 'active' AND pppoe_username <> $2 ORDER BY id LIMIT $1",
      [opts.sessions, DEMO_SUBSCRIBER.username],
    )
  ).rows.map((s) => ({ username: s.username, password: s.enc ? decryptSecret(opts.secretsKey, s.enc) : (s.plain ?? ""), mac: s.mac }));
  const simulators: RouterSimulator[] = [];
  const natSenders: NatSyslogSender[] = [];
  try {
    for (const [i, router] of routers.entries()) {
      const mine = subs.filter((_, j) => j % routers.length === i);
      if (mine.length === 0) continue;
      const sim = new RouterSimulator({
        nasIp: router.ip,
        nasIdentifier: router.name,
        secret: router.radius_secret,
        serverHost: opts.serverHost ?? "127.0.0.1",
        authPort: opts.authPort,
        acctPort: opts.acctPort,
        coaPort: opts.coaPortOverride ?? router.coa_port,
        subscribers: mine.map((s) => ({ username: s.username, password: s.password, ...(s.mac ? { macAddress: s.mac } : {}) })),
        interimIntervalMs: opts.interimIntervalS * 1000,
        connectPerSecond: Math.max(1, Math.ceil(mine.length / Math.max(1, opts.rampMs / 1000))),
        chapRatio: 0.2,
        autoReconnectAfterMs: opts.autoReconnectAfterMs ?? 30_000,
        seed: router.id,
      });
      sim.on("reject", (e) => opts.log.debug(`${router.name}: ${e.username} rejected: ${e.replyMessage ?? "?"}`));
      await sim.start();
      simulators.push(sim);
      if (opts.natSyslog) {
        const sender = new NatSyslogSender({
          sourceIp: router.ip,
          hostname: router.name,
          serverHost: opts.natSyslog.host ?? "127.0.0.1",
          serverPort: opts.natSyslog.port,
          publicIp: `203.0.113.${(router.id % 250) + 1}`,
          linesPerSecond: opts.natSyslog.linesPerSecondPerRouter,
          sessions: () => sim.sessions(),
          seed: router.id,
        });
        await sender.start();
        natSenders.push(sender);
      }
      opts.log.info(`${router.name} (${router.ip}, CoA ${sim.coaBoundPort()}) dialling ${mine.length} subscribers`);
    }
  } catch (err) {
    await Promise.allSettled([...natSenders.map((s) => s.stop()), ...simulators.map((s) => s.stop({ sendStops: false }))]);
    throw err;
  }
  return {
    simulators,
    async stop() {
      await Promise.allSettled(natSenders.map((s) => s.stop()));
      // Stops are sent so the sessions close cleanly in the database.
      await Promise.allSettled(simulators.map((s) => s.stop()));
    },
  };
}
