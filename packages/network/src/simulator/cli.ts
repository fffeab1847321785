#!/usr/bin/env -S npx tsx
// Router simulator CLI: a virtual NAS dialing subscribers against a RADIUS server.
//   tsx src/simulator/cli.ts --server 127.0.0.1 --auth-port 1812 --acct-port 1813 \
//     --nas-ip 127.0.0.2 --secret s --coa-port 3799 --users users.json
// users.json: [{ "username": "u1", "password": "p1", "macAddress": "AA:BB:CC:00:00:01" }, ...]
// Without --users, --count N generates user0001..userN with --password (default "secret").
import { readFileSync } from "node:fs";
import { RouterSimulator, type SimSubscriber } from "./simulator";

const HELP = `Options:
  --server <ip>            RADIUS server address (default 127.0.0.1)
  --auth-port <n>          default 1812
  --acct-port <n>          default 1813
  --nas-ip <ip>            NAS source address to bind, e.g. 127.0.0.2 (default 127.0.0.2)
  --nas-identifier <s>     default sim-<nas-ip>
  --secret <s>             shared secret (required)
  --coa-port <n>           CoA/Disconnect listen port on nas-ip (default 3799, 0 = ephemeral)
  --users <file.json>      subscribers [{username,password,macAddress?}]
  --count <n>              generate n subscribers when --users is absent (default 10)
  --password <s>           password of generated subscribers (default "secret")
  --interim-ms <n>         interim interval (default 60000)
  --connect-per-second <n> dial ramp (default 50)
  --chap-ratio <0..1>      share of CHAP logins (default 0)
  --reconnect-ms <n>       redial after reject/disconnect
  --no-stop-on-exit        do not send Stop for sessions on Ctrl-C
  --coa-mode <m>           act (default) | ack-without-acting (ACK Disconnect/CoA, change nothing)
  --api-port <n>           serve the RouterOS API on nas-ip:<n> (0 = ephemeral; off when absent)
  --rest-port <n>          serve the RouterOS 7 REST API on nas-ip:<n> (0 = ephemeral; off when absent)
  --router-user <name>     API/REST login (default admin)
  --router-password <s>    API/REST password (default empty)`;

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === "--help" || a.startsWith("--no-")) out.set(a.slice(2), "true");
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      out.set(a.slice(2), v);
    }
  }
  return out;
}

function num(args: Map<string, string>, key: string, fallback: number): number {
  const v = args.get(key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${key} must be a number`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has("help")) {
    console.log(HELP);
    return;
  }
  const secret = args.get("secret");
  if (!secret) throw new Error("--secret is required");
  let subscribers: SimSubscriber[];
  const usersFile = args.get("users");
  if (usersFile) {
    subscribers = JSON.parse(readFileSync(usersFile, "utf8")) as SimSubscriber[];
    if (!Array.isArray(subscribers) || subscribers.some((s) => typeof s?.username !== "string" || typeof s?.password !== "string")) {
      throw new Error(`${usersFile}: expected [{ "username": "...", "password": "..." }]`);
    }
  } else {
    const count = num(args, "count", 10);
    const password = args.get("password") ?? "secret";
    subscribers = Array.from({ length: count }, (_, i) => ({ username: `user${String(i + 1).padStart(4, "0")}`, password }));
  }
  const nasIp = args.get("nas-ip") ?? "127.0.0.2";
  const reconnect = args.get("reconnect-ms");
  const coaMode = args.get("coa-mode") ?? "act";
  if (coaMode !== "act" && coaMode !== "ack-without-acting") throw new Error("--coa-mode must be act or ack-without-acting");
  const apiPort = args.get("api-port");
  const restPort = args.get("rest-port");
  const sim = new RouterSimulator({
    nasIp,
    nasIdentifier: args.get("nas-identifier") ?? `sim-${nasIp}`,
    secret,
    serverHost: args.get("server") ?? "127.0.0.1",
    authPort: num(args, "auth-port", 1812),
    acctPort: num(args, "acct-port", 1813),
    coaPort: num(args, "coa-port", 3799),
    subscribers,
    interimIntervalMs: num(args, "interim-ms", 60_000),
    connectPerSecond: num(args, "connect-per-second", 50),
    chapRatio: num(args, "chap-ratio", 0),
    ...(reconnect === undefined ? {} : { autoReconnectAfterMs: Number(reconnect) }),
    coaMode,
    ...(apiPort === undefined ? {} : { routerOsApi: { port: num(args, "api-port", 0) } }),
    ...(restPort === undefined ? {} : { routerOsRest: { port: num(args, "rest-port", 0) } }),
    routerUsers: { [args.get("router-user") ?? "admin"]: args.get("router-password") ?? "" },
  });
  sim.on("reject", (e) => console.log(`reject ${e.username} (${e.authMethod}) ${e.replyMessage ?? ""}`));
  sim.on("session-stop", (s) => console.log(`stop ${s.username} ${s.acctSessionId} ${s.terminateCause}`));
  sim.on("disconnect-request", (d) => console.log(`disconnect-request from ${d.from} session=${d.acctSessionId ?? "-"} user=${d.userName ?? "-"} found=${d.found}`));
  await sim.start();
  console.log(`simulator ${nasIp}: ${subscribers.length} subscribers, CoA on ${nasIp}:${sim.coaBoundPort()} (${coaMode})`);
  if (apiPort !== undefined) console.log(`RouterOS API on ${nasIp}:${sim.apiBoundPort()}`);
  if (restPort !== undefined) console.log(`RouterOS REST on http://${nasIp}:${sim.restBoundPort()}/rest`);
  const ticker = setInterval(() => console.log(JSON.stringify(sim.stats())), 5000);
  const shutdown = async () => {
    clearInterval(ticker);
    await sim.stop({ sendStops: !args.has("no-stop-on-exit") });
    console.log(JSON.stringify(sim.stats()));
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error(HELP);
  process.exit(1);
});
